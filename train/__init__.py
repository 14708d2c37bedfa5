"""thagen.train: the bundled PyTorch trainer for the THA networks (needs the 'train' extra)."""
