"""The model files a config needs: where each resolves, its state, fetching, licences."""
