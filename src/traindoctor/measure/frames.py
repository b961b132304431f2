"""The script's own frame: the innermost one outside torch and traindoctor."""

from __future__ import annotations

import os
import sys
from types import FrameType

import torch

PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


def user_frame() -> FrameType | None:
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith((PKG_DIR, TORCH_DIR)) and "<frozen" not in path:
            return frame
        frame = frame.f_back
    return None
