"""The bounded decoder turns every failure of a hostile value into WireError, but never the decoding
process's own alarm: a TimeoutError raised mid-decode (an OSError, like the failures of mapping a shared
array that are turned into WireError) passes as it is, so an evaluator whose alarm interrupts the
decoding of a candidate's large answer sees its own TimeoutError, not "a value that could not be read"
(which it did before: found end to end, `test_redteam_socket_reader`)."""

from __future__ import annotations

import pytest

from selftaught.sandbox.inside import wire


def _alarm(_: wire.Ref) -> object:
    raise TimeoutError("the evaluator gave up")


def test_a_timeout_raised_mid_decode_is_not_turned_into_a_wire_error() -> None:
    data = wire.dumps([1, 2]).replace(b"2", b'{"__st__":"ref","id":5,"cls":"Thing"}')
    with pytest.raises(TimeoutError, match="the evaluator gave up"):
        wire.loads(data, refs=_alarm)


def test_any_other_os_error_mid_decode_is_a_wire_error() -> None:
    """The control: an OSError that is not a timeout is the value's failure, as before."""

    def broken(_: wire.Ref) -> object:
        raise FileNotFoundError("no such shared array")

    data = wire.dumps([1, 2]).replace(b"2", b'{"__st__":"ref","id":5,"cls":"Thing"}')
    with pytest.raises(wire.WireError, match="FileNotFoundError"):
        wire.loads(data, refs=broken)
