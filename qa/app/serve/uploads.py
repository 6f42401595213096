"""Uploaded files while they wait in Gradio's temp folder: who holds how many bytes, quotas, and clean-up.

Gradio writes every file sent to `POST /gradio_api/upload` into its temp folder (`GRADIO_TEMP_DIR`, default
`/tmp/gradio`) before any event sees it. `UploadGuardMiddleware` stands in front of that route:

- an upload must say its size (`Content-Length`; browsers and `gradio_client` always do), else 411;
- the bytes already held in temp by the same client (the signed-in account, else the client address) plus this
  upload may not pass `MAX_TEMP_BYTES_PER_CLIENT`, nor all clients together `MAX_TEMP_BYTES`: else 413;
- Gradio's own 413 for a file over `MAX_UPLOAD_BYTES` is reworded;

each refusal as one sentence in the reader's language (Accept-Language; the six UN languages, else English),
as plain text, which is what Gradio's upload widget shows. The files of a successful upload are recorded in
`TEMP_UPLOADS`; the Reports tab calls `TEMP_UPLOADS.release(path)` once the report was added or refused, which
deletes the file (and its folder) when no other pending upload holds the same content. Files nobody used are
deleted by Gradio's own sweep (`gr.Blocks(delete_cache=TEMP_SWEEP)`: every minute, those older than
`UPLOAD_TTL_S`; all of them when the server stops); a file gone from disk no longer counts against a quota.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from qa.app.serve.auth import session_user
from qa.app.serve.limits import MAX_TEMP_BYTES, MAX_TEMP_BYTES_PER_CLIENT, MAX_UPLOAD_BYTES, UPLOAD_TTL_S, human_bytes
from qa.app.serve.throttle import client_address
from qa.app.ui.deeplink import accept_language_reader

log = logging.getLogger("report_qa")
UPLOAD_PATH = "/gradio_api/upload"
TEMP_SWEEP = (60, int(UPLOAD_TTL_S))  # Gradio's delete_cache: (how often, how old) in seconds

# One sentence per refusal, in the six UN languages; {limit} / {held} are sizes such as "50 MB".
MESSAGES = {
    "file_too_large": {
        "en": "This file is larger than {limit}, the limit for one report. Split it or compress its images, then upload it again.",
        "fr": "Ce fichier dépasse {limit}, la taille maximale d'un rapport. Divisez-le ou compressez ses images, puis téléversez-le de nouveau.",
        "es": "Este archivo supera {limit}, el límite para un informe. Divídalo o comprima sus imágenes y vuelva a subirlo.",
        "ru": "Файл больше {limit} — предельного размера одного доклада. Разделите его или сожмите изображения и загрузите снова.",
        "ar": "هذا الملف أكبر من {limit}، وهو الحد الأقصى لتقرير واحد. قسّمه أو اضغط صوره، ثم ارفعه مرة أخرى.",
        "zh": "此文件超过 {limit}，即单份报告的上限。请拆分文件或压缩其中的图片后重新上传。",
    },
    "client_quota": {
        "en": "Your uploads waiting on the server already take {held}; the limit is {limit} at a time. Wait until your reports have been added (or refused), then upload again.",
        "fr": "Vos fichiers en attente sur le serveur occupent déjà {held} ; la limite est de {limit} à la fois. Attendez que vos rapports aient été ajoutés (ou refusés), puis téléversez de nouveau.",
        "es": "Sus archivos pendientes en el servidor ya ocupan {held}; el límite es {limit} a la vez. Espere a que sus informes se hayan añadido (o rechazado) y vuelva a subirlos.",
        "ru": "Ваши файлы, ожидающие на сервере, уже занимают {held}; одновременно допускается {limit}. Дождитесь, пока доклады будут добавлены (или отклонены), и загрузите снова.",
        "ar": "ملفاتك المنتظرة على الخادم تشغل بالفعل {held}؛ والحد هو {limit} في المرة الواحدة. انتظر حتى تُضاف تقاريرك (أو تُرفض)، ثم ارفع مرة أخرى.",
        "zh": "您在服务器上等待处理的文件已占用 {held}；同一时间的上限为 {limit}。请等报告添加（或被拒绝）后再上传。",
    },
    "server_quota": {
        "en": "The server is holding too many uploads right now ({held}; the limit is {limit}). Please try again in a few minutes.",
        "fr": "Le serveur conserve trop de fichiers téléversés en ce moment ({held} ; la limite est de {limit}). Veuillez réessayer dans quelques minutes.",
        "es": "El servidor retiene demasiados archivos subidos en este momento ({held}; el límite es {limit}). Vuelva a intentarlo dentro de unos minutos.",
        "ru": "Сейчас на сервере слишком много загруженных файлов ({held}; предел — {limit}). Повторите попытку через несколько минут.",
        "ar": "يحتفظ الخادم حاليًا بعدد كبير جدًا من الملفات المرفوعة ({held}؛ والحد هو {limit}). يُرجى المحاولة مرة أخرى بعد بضع دقائق.",
        "zh": "服务器当前保存的上传文件过多（{held}；上限为 {limit}）。请几分钟后再试。",
    },
    "length_required": {
        "en": "The upload did not say its size (Content-Length); send the file as a normal form upload.",
        "fr": "Le téléversement n'indique pas sa taille (Content-Length) ; envoyez le fichier par un formulaire ordinaire.",
        "es": "La subida no indicó su tamaño (Content-Length); envíe el archivo como un formulario normal.",
        "ru": "Загрузка не указала свой размер (Content-Length); отправьте файл обычной формой.",
        "ar": "لم يذكر الرفع حجمه (Content-Length)؛ أرسل الملف عبر نموذج رفع عادي.",
        "zh": "上传请求未注明大小（Content-Length）；请以普通表单方式上传文件。",
    },
}


def message(key: str, lang: str | None, **values) -> str:
    table = MESSAGES[key]
    return table.get(lang or "en", table["en"]).format(**values)


def reader_language_of(scope) -> str:
    for k, v in scope.get("headers", []):
        if k == b"accept-language":
            return accept_language_reader(v.decode("latin-1")) or "en"
    return "en"


def upload_owner(scope) -> str:
    """Whose upload this is: the signed-in account (Gradio's session cookie), else the client address."""
    user = session_user(scope)
    return "user:" + user if user is not None else "addr:" + client_address(scope)


@dataclass
class _Held:
    owner: str
    size: int
    since: float
    refs: int = 1


class TempUploads:
    """Files the upload route wrote, by owner, until an event used them (`release`) or they left the disk."""

    def __init__(self, *, per_client: int = MAX_TEMP_BYTES_PER_CLIENT, total: int = MAX_TEMP_BYTES):
        self.per_client, self.total = per_client, total
        self._files: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def _prune(self) -> None:
        for path in [p for p in self._files if not os.path.exists(p)]:
            del self._files[path]

    def held(self, owner: str | None = None) -> int:
        with self._lock:
            self._prune()
            return sum(h.size for h in self._files.values() if owner is None or h.owner == owner)

    def refusal(self, owner: str, incoming: int) -> tuple[str, int, int] | None:
        """(message key, bytes held, limit) when `incoming` more bytes would pass a quota, else None."""
        mine, everyone = self.held(owner), self.held()
        if mine + incoming > self.per_client:
            return "client_quota", mine, self.per_client
        if everyone + incoming > self.total:
            return "server_quota", everyone, self.total
        return None

    def add(self, owner: str, paths: list[str]) -> None:
        with self._lock:
            for p in paths:
                try:
                    size = os.path.getsize(p)
                except OSError:
                    continue
                if p in self._files:
                    self._files[p].refs += 1  # the same content again: Gradio stores it once, at the same path
                else:
                    self._files[p] = _Held(owner, size, time.monotonic())

    def release(self, path: str | os.PathLike | None) -> bool:
        """The upload at `path` was used (added or refused): delete it unless another pending upload holds the
        same file. Only files inside Gradio's upload folder are ever deleted. True when it was deleted."""
        if not path:
            return False
        path = str(path)
        with self._lock:
            held = self._files.get(path)
            if held is not None and held.refs > 1:
                held.refs -= 1
                return False
            self._files.pop(path, None)
        return _delete_upload(Path(path))


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder  # Gradio is loaded by then; this module is imported before it

    return Path(get_upload_folder()).resolve()


def _delete_upload(path: Path) -> bool:
    try:
        real = path.resolve()
        root = upload_folder()
        if root not in real.parents:
            return False
        real.unlink(missing_ok=True)
        if real.parent != root:
            try:
                real.parent.rmdir()  # Gradio's <sha256>/ folder, once empty
            except OSError:
                pass
        return True
    except OSError as exc:
        log.warning("could not delete the uploaded file %s: %s", path, exc)
        return False


TEMP_UPLOADS = TempUploads()


class UploadGuardMiddleware:
    """ASGI middleware on `POST /gradio_api/upload`: sizes declared, quotas kept, refusals in the reader's
    language; successful uploads recorded in `uploads` (see the module docstring)."""

    def __init__(self, app, uploads: TempUploads = TEMP_UPLOADS, max_file_bytes: int = MAX_UPLOAD_BYTES):
        self.app = app
        self.uploads = uploads
        self.max_file_bytes = max_file_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path", "").rstrip("/") != UPLOAD_PATH:
            return await self.app(scope, receive, send)
        lang = reader_language_of(scope)
        length = None
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
        if length is None or length < 0:
            return await _plain(send, 411, message("length_required", lang))
        owner = upload_owner(scope)
        refused = self.uploads.refusal(owner, length)
        if refused is not None:
            key, held, limit = refused
            log.warning("upload refused (%s): %s holds %s in temp, %s more asked", key, owner, human_bytes(held),
                        human_bytes(length))
            return await _plain(send, 413, message(key, lang, held=human_bytes(held), limit=human_bytes(limit)))
        state: dict = {"status": 0, "body": b""}

        async def watched(msg):
            if msg["type"] == "http.response.start":
                state["status"] = msg.get("status", 0)
                if state["status"] == 413:  # Gradio's "File size exceeded maximum allowed size of … bytes."
                    state["rewrite"] = message("file_too_large", lang, limit=human_bytes(self.max_file_bytes)).encode()
                    headers = [(k, v) for k, v in msg.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
                    headers += [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(state["rewrite"])).encode())]
                    return await send({**msg, "headers": headers})
            elif msg["type"] == "http.response.body":
                if "rewrite" in state:
                    if msg.get("more_body", False):
                        return None
                    return await send({"type": "http.response.body", "body": state["rewrite"], "more_body": False})
                if state["status"] == 200 and len(state["body"]) < 1 << 20:
                    state["body"] += msg.get("body", b"")
            return await send(msg)

        await self.app(scope, receive, watched)
        if state["status"] == 200:
            try:
                paths = json.loads(state["body"] or b"[]")
            except ValueError:
                paths = []
            self.uploads.add(owner, [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else [])


async def _plain(send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
