"""Shared pytest fixtures and paths."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
VIDEOS = SHARED / "videos"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still run in CI)")
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one)")
