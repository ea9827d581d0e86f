"""Files handed in over HTTP: the list upload every list route takes, read one way."""

from __future__ import annotations

from fastapi import Request

from shared.errors import CodedError

MAX_UPLOAD = 64 * 1024 * 1024


class UploadRefused(CodedError):
    """The request carries no usable file (422) or too large a one (413)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


async def read_upload(request: Request) -> tuple[bytes, str, str]:
    """The file from a multipart form (field ``file``) or the raw body, with its name and
    content type; ``UploadRefused`` when there is none or it is over ``MAX_UPLOAD`` bytes."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise UploadRefused(
                422, "INVALID_LIST_FILE", "multipart upload needs a file field named 'file'"
            )
        data = await upload.read()
        filename, content_type = upload.filename or "", upload.content_type or ""
    else:
        data, filename = await request.body(), ""
    if len(data) > MAX_UPLOAD:
        raise UploadRefused(413, "LIST_TOO_LARGE", f"a list may have at most {MAX_UPLOAD} bytes")
    return data, filename, content_type
