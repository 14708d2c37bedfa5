"""thagen.annotate: head-top / chin annotations (the GUI comes in its own issue)."""
