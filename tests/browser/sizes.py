"""The two screens the browser stories run at (issue 14: desktop 1440x900, phone
390x844), as keyword arguments for `new_context`."""

from __future__ import annotations

from typing import Any

SIZES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1440, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
