"""The one exception type of the project: bad input that a person can fix."""


class TryOnError(ValueError):
    """Bad input (a photo, a garment, a dataset file, an argument), with a message a shopper can read."""


class DatasetError(TryOnError):
    """A dataset file is missing or malformed; the message names the file."""
