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


class InvalidFields(ValidationError):
    """Several fields of one form are wrong at once: ``errors`` maps each field to its message, so
    the form can show them all together. ``str()`` and ``field`` are the first, for a toast."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field or None)
        self.errors = dict(errors)


class FieldErrors:
    """Checks a form field by field and keeps every message instead of stopping at the first.

    ``value = errors.check(parse, ...)`` runs one field's check and returns its value (None when
    it failed); ``errors.raise_any()`` at the end raises them together as ``InvalidFields``.
    """

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def check(self, checker, *args, **kwargs):
        try:
            return checker(*args, **kwargs)
        except InvalidFields as error:
            for field, message in error.errors.items():
                self.errors.setdefault(field, message)
        except ValidationError as error:
            self.errors.setdefault(error.field or "", str(error))
        return None

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def ok(self, *fields: str) -> bool:
        """None of these fields has failed (a rule joining them is worth checking)."""
        return not any(field in self.errors for field in fields)

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidFields(self.errors)


def field_messages(error: DomainError, fields) -> dict[str, str]:
    """Each field's message from an error, for a form to show under its fields; a message for a
    field the form does not have goes under the key "" (shown above the form)."""
    found = error.errors if isinstance(error, InvalidFields) else {error.field or "": str(error)}
    shown: dict[str, str] = {}
    for field, message in found.items():
        key = field if field in fields else ""
        shown.setdefault(key, message)
    return shown
