"""Which model files a run renders: stable character ids, discovery of files and zips, the hash cache."""
