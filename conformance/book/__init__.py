"""The book's side: the lessons and their site, `reproduce` (a preset's best of several seeds, beside
the book's figure) and ensembles (chapter 6's vote).

It imports the suite, run and lower wings.
"""
