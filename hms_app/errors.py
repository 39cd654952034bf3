"""The one error family users can fix: its message is shown as a toast or field error."""


class DomainError(Exception):
    """A rule was broken; ``str(error)`` is a plain sentence for the user."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class ValidationError(DomainError):
    """Input that cannot be accepted as it is."""


class NotFound(DomainError):
    """The thing asked for does not exist (or the actor may not know it does)."""


class Forbidden(DomainError):
    """The actor is not allowed to do this."""


class NotSignedIn(Forbidden):
    """No valid session: the user must sign in (again)."""


class Conflict(DomainError):
    """Someone else changed the same thing first."""


class Withheld(NotFound):
    """The thing exists but is not the actor's to see: answered exactly as if it did not exist
    (same text, same status), so that a refusal never confirms that an id is real. The refusal
    is still audited under this type's name."""


class FieldErrors(ValidationError):
    """Several fields are wrong at once: ``fields`` maps each field to its message, shown under it."""

    def __init__(self, fields: dict[str, str]):
        first_field, first_message = next(iter(fields.items()))
        super().__init__(first_message, field=first_field)
        self.fields = dict(fields)
