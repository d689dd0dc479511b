"""What the operators raise: each error says what failed and shows the evidence (an exit code
and the end of stderr, an HTTP status and the start of the body, two row counts)."""

from __future__ import annotations

from pauta.core.errors import PautaError


class OperatorError(PautaError):
    """An operator could not do what it was asked."""


class CommandFailed(OperatorError):
    """A ``shell`` command ended with an exit code outside ``ok_codes``."""

    def __init__(self, message: str, *, code: int, stderr: str) -> None:
        super().__init__(message)
        self.code = code
        self.stderr = stderr

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), str(self), self.code, self.stderr))


class CommandTimeout(CommandFailed):
    """A ``shell`` command ran past its ``timeout``: its whole process group was killed."""


class HttpStatusError(OperatorError):
    """An ``http`` request was answered with a status outside ``expect``."""

    def __init__(self, message: str, *, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_http, (str(self), self.status, self.body))


class TransferError(OperatorError):
    """A transfer read a different number of rows than it wrote, or could not start."""


def _rebuild(kind: type[CommandFailed], message: str, code: int, stderr: str) -> CommandFailed:
    return kind(message, code=code, stderr=stderr)


def _rebuild_http(message: str, status: int, body: str) -> HttpStatusError:
    return HttpStatusError(message, status=status, body=body)
