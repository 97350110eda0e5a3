"""The one exception type a user can cause and fix."""


class StyleJaxError(Exception):
    """Bad input or settings: the message says what is wrong and what to do.

    The CLI prints it as one line on stderr and exits with status 2.
    """


class LossDivergedError(StyleJaxError):
    """The loss stopped being finite: these settings fail on these images.

    A bulk job fails the batch's images and goes on with the others; elsewhere it is a StyleJaxError.
    """
