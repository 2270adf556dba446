"""The frames of an interactive session: what one side writes, the other reads back, however
the bytes are cut on the way."""

import pytest

from paas.ttyframes import (
    INPUT,
    MAX_PAYLOAD,
    OUTPUT,
    RESIZE,
    FrameReader,
    ProtocolError,
    exit_frame,
    frame,
    parse_code,
    parse_size,
    resize_frame,
)


def test_frames_come_back_whole_from_a_stream_cut_anywhere():
    stream = frame(INPUT, b"ls\r") + resize_frame(50, 132) + frame(OUTPUT, b"") + exit_frame(3)
    reader = FrameReader()

    frames = [found for byte in stream for found in reader.feed(bytes([byte]))]

    assert frames == [(INPUT, b"ls\r"), (RESIZE, b"\x00\x32\x00\x84"), (OUTPUT, b""),
                      (b"x", b"\x00\x00\x00\x03")]
    assert parse_size(frames[1][1]) == (50, 132)
    assert parse_code(frames[3][1]) == 3
    assert not reader.partial


def test_a_negative_exit_code_and_an_unfinished_frame():
    reader = FrameReader()
    assert reader.feed(exit_frame(-1)[:-1]) == []
    assert reader.partial
    assert parse_code(reader.feed(exit_frame(-1)[-1:])[0][1]) == -1


def test_sizes_are_kept_within_what_a_terminal_has():
    assert parse_size(resize_frame(0, 100_000)[5:]) == (1, 65535)


def test_a_length_beyond_the_limit_is_not_frames():
    with pytest.raises(ProtocolError):
        FrameReader().feed(b"o" + (MAX_PAYLOAD + 1).to_bytes(4, "big"))
    with pytest.raises(ValueError):
        frame(OUTPUT, b"x" * (MAX_PAYLOAD + 1))


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02"])
def test_malformed_resize_and_exit_payloads_are_refused(payload):
    with pytest.raises(ProtocolError):
        parse_size(payload)
    with pytest.raises(ProtocolError):
        parse_code(payload)
