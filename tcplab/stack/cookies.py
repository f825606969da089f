"""SYN cookies for a host's listeners (RFC 4987 §3.6).

Theory of operation
-------------------
A listener whose SYN queue is full would drop SYNs, and a flood of spoofed SYNs keeps it
full.  With ``syn_cookies`` on (the default, ``syncookies=off`` to compare), the host
answers such a SYN with a SYN,ACK whose ISN is a cookie (:func:`tcplab.tcp.isn.make_cookie`:
a keyed hash of the four-tuple, the peer's ISN and the time, plus the peer's MSS) and
keeps nothing.  A spoofed source never answers; a real client's ACK brings the cookie
back as SEG.ACK - 1, and a valid one makes the child at once, ESTABLISHED.  Window
scaling and SACK ride in the SYN,ACK's TSval and return in TSecr; a peer without
timestamps loses them, as with Linux.

An ACK to a listener is taken as a cookie only while the listener has sent cookies in
the last two cookie periods (otherwise any guessed ACK would be checked), and only with
room in its accept queue.
"""

from __future__ import annotations

from tcplab.stack.sockets import SocketRecord
from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config
from tcplab.tcp.isn import COOKIE_MAX_AGE, COOKIE_PERIOD, check_cookie, make_cookie
from tcplab.tcp.segment import ACK, RST, SYN, Segment

Address = tuple[str, int]


def cookie_syn_ack(lst: SocketRecord, config: Config, local: Address, remote: Address,
                   seg: Segment, now: float) -> Segment:
    """The SYN,ACK answering ``seg`` with a cookie; the listener notes the time."""
    probe = lst.conn.spawn(remote)
    probe.local = local
    probe.config = config
    cookie = make_cookie(config.isn_secret, local, remote, seg.seq, seg.mss() or 536, now)
    lst.cookie_sent = now
    return probe.syn_ack_for_cookie(seg, cookie, now)


def cookie_mss(lst: SocketRecord, secret: bytes, local: Address, remote: Address,
               seg: Segment, now: float) -> int | None:
    """The MSS a valid cookie in ``seg`` carries; None when ``seg`` is not one."""
    if (not lst.conn.config.syn_cookies or lst.cookie_sent is None
            or now - lst.cookie_sent > COOKIE_PERIOD * COOKIE_MAX_AGE
            or seg.flags & (SYN | RST | ACK) != ACK or len(lst.accept_queue) >= lst.backlog):
        return None
    return check_cookie(secret, local, remote, sq.add(seg.seq, -1), sq.add(seg.ack, -1), now)


__all__ = ["cookie_mss", "cookie_syn_ack"]
