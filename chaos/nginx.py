"""`deploy/nginx.conf` (the compose file's proxy config) pointed at loopback upstreams."""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
_SERVER_LINE = re.compile(r"^(\s*)server\s+app\d+:8000([^;]*);\s*$", re.MULTILINE)


def http_block(upstreams: list[str], listen: str, conf: Path = DEPLOY_CONF) -> str:
    """The deploy config with its `appN:8000` servers and `listen 80` replaced.

    `upstreams` are `host:port` strings; the per-server options of the first deploy
    line (max_fails, fail_timeout) are kept.
    """
    text = conf.read_text()
    found = list(_SERVER_LINE.finditer(text))
    if not found or "listen 80;" not in text:
        raise ValueError(f"{conf} no longer has `server appN:8000 …;` lines and `listen 80;`")
    indent, options = found[0].group(1), found[0].group(2)
    servers = "".join(f"{indent}server {u}{options};\n" for u in upstreams)
    text = text[: found[0].start()] + servers.rstrip("\n") + text[found[-1].end() :]
    return text.replace("listen 80;", f"listen {listen};")
