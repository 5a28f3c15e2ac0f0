"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A mistake in the config, the CLI or the input table: reported in one line, no traceback."""


class ConfigError(UserError):
    """A bad config key or value; the message names the key and what is expected."""


class TableError(UserError):
    """An input table that cannot be used (missing column, empty, undecodable)."""


class PlanMismatchError(UserError):
    """A resumed run whose input or plan-shaping config differs from the recorded plan."""
