"""`charfolio review`: a local web page to review a character's images and rate its boards.

files.py        which files may be served: catalogued images, storyboard frames, checkpoint
                images, looked up by key and kept inside the character's results
thumbnails.py   an in-memory LRU of Pillow thumbnails (nothing is cached on disk)
catalog_view.py the catalog as the page's grid needs it: tiles, details, shot types
gaps.py         the shot types each tier's balance report says are short
rateable.py     storyboard frames and checkpoint images, the ratings view's items
state.py        the settings, and the catalog loaded (again when a run rebuilds it)
security.py     the gate: the token on every request, header token and JSON for writes,
                loopback host names, no foreign origin
app.py          the Starlette app: JSON API, images, the static page
serve.py        binding, the tokened URL, the browser and uvicorn

Only `charfolio.cli` imports this package; it writes nothing but the character's two
review files (decisions and ratings, in the config's review_dir).
"""
