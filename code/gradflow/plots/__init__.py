"""The figures of the book: ``style`` (palette, figure defaults and the helpers several chapters
use) and one figure module per chapter, named after the lesson file."""
