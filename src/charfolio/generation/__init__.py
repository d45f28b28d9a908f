"""Image generation: backends behind one protocol, and the seed-group shard writer."""
