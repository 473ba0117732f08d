"""`videoflextok_core.tokenfile`: what a file that is not a tokens file gets (the app and the CLI
read tokens files through it; their own tests check the round trip)."""

import pytest

from videoflextok_core.tokenfile import TokenFileError, read_tokens


def test_read_tokens_refuses_junk(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_text("junk")
    with pytest.raises(TokenFileError, match="not a safetensors tokens file"):
        read_tokens(junk)
