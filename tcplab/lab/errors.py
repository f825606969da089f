"""The lab's error: a command that cannot be carried out, said in one line."""


class LabError(Exception):
    """A command that cannot be carried out; the message is for the user."""
