"""Recognition engines behind one small interface (see `base.Recognizer`)."""
