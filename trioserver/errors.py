"""Domain errors. The runtime and storage raise these; the HTTP layer maps them to statuses."""


class ServerError(Exception):
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServerError):
    status = 404


class Conflict(ServerError):
    status = 409


class Invalid(ServerError):
    status = 422


class BadRequest(ServerError):
    status = 400


class Unavailable(ServerError):
    status = 503
