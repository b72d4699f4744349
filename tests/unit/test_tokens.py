import threading
import time

from campaign_engine.core.tokens import TokenKind, TokenPayload, TokenSigner

signer = TokenSigner("secret-one")


def test_round_trip() -> None:
    token = signer.sign(TokenKind.CLICK, 42, 3)
    assert signer.verify(token) == TokenPayload(TokenKind.CLICK, 42, 3)


def test_forged_truncated_and_foreign_tokens_do_not_verify() -> None:
    token = signer.sign(TokenKind.CLICK, 42, 3)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert signer.verify(flipped) is None
    assert signer.verify(token[:-2]) is None
    assert signer.verify(token + "xx") is None
    assert signer.verify("") is None
    assert signer.verify("!" * len(token)) is None
    assert TokenSigner("another-secret").verify(token) is None


def test_tokens_for_neighbouring_messages_share_no_guessable_suffix() -> None:
    a, b = signer.sign(TokenKind.OPEN, 1), signer.sign(TokenKind.OPEN, 2)
    assert a[-20:] != b[-20:]


def test_links_and_addresses_in_mail_already_sent_keep_verifying() -> None:
    """The signature is HMAC-SHA256 over the payload, truncated: these were signed by the
    first version and must verify, and come out the same, forever."""
    signer = TokenSigner("test-secret")
    assert signer.sign(TokenKind.CLICK, 42, 3) == "dAAAAAAAAAAqAAN_WXt40Nee8wZlPXAK37Rp"
    assert signer.verify("dAAAAAAAAAAqAAN_WXt40Nee8wZlPXAK37Rp") == TokenPayload(
        TokenKind.CLICK, 42, 3
    )
    tag = "oiaaaaaaaaaaabyaadckgo77zo6cqcwxfrgksc2xulvq"
    assert signer.sign_tag(TokenKind.REPLY, 7) == tag
    assert signer.verify_tag(tag.upper()) == TokenPayload(TokenKind.REPLY, 7)


def test_signing_does_not_hand_the_interpreter_to_a_busy_thread() -> None:
    """Tokens are signed and checked on the event loop while a writer thread works: a signature
    that released the GIL would wait for that thread each time (milliseconds, not microseconds)."""
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            pass

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        started = time.perf_counter()
        for message_id in range(200):
            signer.verify(signer.sign(TokenKind.OPEN, message_id))
        took = time.perf_counter() - started
    finally:
        stop.set()
        worker.join()
    assert took < 0.2, f"400 signatures took {took:.2f} s beside a busy thread"
