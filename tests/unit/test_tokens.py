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
