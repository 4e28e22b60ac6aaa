"""The expression language of ``pyperf argdist``: C's integer expressions over a probe's values.

What bcc's argdist pastes into C, parsed here (C11 6.5's grammar and precedence, for the subset below)::

    expr     := cond
    cond     := lor [ '?' expr ':' cond ]
    lor      := land { '||' land }           land := bor { '&&' bor }
    bor      := bxor { '|' bxor }            bxor := band { '^' band }        band := eq { '&' eq }
    eq       := rel { ('=='|'!=') rel }      rel  := shift { ('<'|'<='|'>'|'>=') shift }
    shift    := add { ('<<'|'>>') add }      add  := mul { ('+'|'-') mul }    mul := unary { ('*'|'/'|'%') unary }
    unary    := ('-'|'+'|'!'|'~'|'*') unary | '(' TYPE ')' unary | postfix
    postfix  := primary { '[' expr ']' | '->' NAME }
    primary  := NUMBER | CHAR | STRING | NAME | '$retval' | '$latency' | '$PID' | '$TID' | '$COMM' | '$cpu'
              | '$entry' '(' NAME ')' | 'STRCMP' '(' STRING ',' expr ')' | '(' expr ')'

``args->field`` names a tracepoint field, ``argN`` an SDT argument, other names a function's parameters
(bpf/context.py decides what they are). Each node keeps the position where it was written, so an error
can point at the token (:class:`ExprError`).
"""
from __future__ import annotations

from pyperf_probe.records import Record, field


class ExprError(Exception):
    """An expression outside the supported language; ``pos`` is the offset of the token in the text."""

    def __init__(self, message: str, pos: int, length: int = 1):
        super().__init__(message)
        self.message, self.pos, self.length = message, pos, max(1, length)

    def render(self, text: str, offset: int = 0) -> str:
        """The message, the text, and a caret line under the token (``offset``: where the expression starts
        in ``text``)."""
        at = offset + self.pos
        return f"{self.message}\n    {text}\n    {' ' * at}{'^' * self.length}"


class Node(Record):
    """A parsed expression: ``kind`` ('num', 'str', 'name', 'dollar', 'entry', 'field', 'unary', 'binary',
    'cond', 'cast', 'index', 'member', 'strcmp'), ``value`` (number, text, operator or type), ``kids`` and
    ``pos``/``end``: where it was written."""

    __slots__ = ()
    _fields = ("kind", "value", "kids", "pos", "end")

    def __new__(cls, kind: str, value=None, kids: tuple = (), pos: int = 0, end: int = 0):
        return tuple.__new__(cls, (kind, value, tuple(kids), pos, end))

    kind = field(0)
    value = field(1)
    kids = field(2)
    pos = field(3)
    end = field(4)


# --- tokens -------------------------------------------------------------------------------------------------

_OPS = ("<<=", ">>=", "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--", "+=", "-=",
        "+", "-", "*", "/", "%", "<", ">", "!", "~", "&", "|", "^", "?", ":", "(", ")", "[", "]", ",", ".", "=")


class Token(Record):
    __slots__ = ()
    _fields = ("kind", "text", "pos", "value")

    def __new__(cls, kind: str, text: str, pos: int, value=None):
        return tuple.__new__(cls, (kind, text, pos, value))

    kind = field(0, "'num', 'char', 'str', 'name', 'dollar', 'op', 'end'")
    text = field(1)
    pos = field(2)
    value = field(3)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}


def _number(text: str, pos: int) -> tuple:
    """A C integer constant at ``pos``: decimal, 0x hex, 0 octal, 0b binary, with u/l suffixes."""
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    word = text[pos:end]
    body = word.rstrip("uUlL")
    suffix = word[len(body):].lower()
    try:
        if body[:2].lower() == "0x":
            value = int(body[2:], 16)
        elif body[:2].lower() == "0b":
            value = int(body[2:], 2)
        elif len(body) > 1 and body[0] == "0":
            value = int(body, 8)
        else:
            value = int(body, 10)
    except ValueError:
        raise ExprError(f"invalid number '{word}'", pos, len(word)) from None
    if suffix and suffix not in ("u", "l", "ul", "lu", "ll", "ull", "llu"):
        raise ExprError(f"invalid number '{word}'", pos, len(word))
    return Token("num", word, pos, (value, suffix)), end


def _quoted(text: str, pos: int, quote: str) -> tuple:
    out, i = [], pos + 1
    while i < len(text) and text[i] != quote:
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x":
                j = i + 2
                while j < len(text) and j < i + 4 and text[j] in "0123456789abcdefABCDEF":
                    j += 1
                out.append(chr(int(text[i + 2:j] or "0", 16)))
                i = j
                continue
            if nxt not in _ESCAPES:
                raise ExprError(f"unknown escape '\\{nxt}'", i, 2)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    if i >= len(text):
        raise ExprError("unterminated " + ("string" if quote == '"' else "character constant"), pos)
    return "".join(out), i + 1


def tokenize(text: str) -> list:
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            tok, i = _number(text, i)
            tokens.append(tok)
        elif ch.isalpha() or ch == "_" or ch == "$":
            j = i + 1
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            kind = "dollar" if ch == "$" else "name"
            if kind == "dollar" and j == i + 1:
                raise ExprError("'$' must start a name ($retval, $latency, $entry(...), $PID, $TID, $COMM)", i)
            tokens.append(Token(kind, text[i:j], i))
            i = j
        elif ch == '"':
            value, j = _quoted(text, i, '"')
            while True:       # adjacent string literals are joined, as in C
                k = j
                while k < len(text) and text[k].isspace():
                    k += 1
                if k < len(text) and text[k] == '"':
                    more, j = _quoted(text, k, '"')
                    value += more
                else:
                    break
            tokens.append(Token("str", text[i:j], i, value))
            i = j
        elif ch == "'":
            value, j = _quoted(text, i, "'")
            if len(value) != 1:
                raise ExprError("a character constant holds one character", i, j - i)
            tokens.append(Token("num", text[i:j], i, (ord(value), "char")))
            i = j
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    tokens.append(Token("op", op, i))
                    i += len(op)
                    break
            else:
                raise ExprError(f"unexpected character '{ch}'", i)
    tokens.append(Token("end", "", len(text)))
    return tokens


# --- parser -------------------------------------------------------------------------------------------------

_BINARY_LEVELS = (("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
                  ("<<", ">>"), ("+", "-"), ("*", "/", "%"))
_UNSUPPORTED = {"=": "assignment", "+=": "assignment", "-=": "assignment", "<<=": "assignment",
                ">>=": "assignment", "++": "increment", "--": "decrement", ",": "the comma operator",
                ".": "member access with '.'", "&": "taking an address"}


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect(self, op: str) -> Token:
        if not self.at(op):
            raise self.error(f"expected '{op}'")
        return self.advance()

    def error(self, message: str, tok: Token | None = None) -> ExprError:
        tok = tok or self.tok
        if tok.kind == "end":
            return ExprError(message + " at the end of the expression", tok.pos)
        return ExprError(f"{message}, found '{tok.text}'", tok.pos, len(tok.text))

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            tok = self.tok
            what = _UNSUPPORTED.get(tok.text) if tok.kind == "op" else None
            if what:
                raise ExprError(f"{what} is not supported in argdist expressions", tok.pos, len(tok.text))
            raise self.error("expected an operator or the end of the expression")
        return node

    def expr(self) -> Node:
        return self.cond()

    def cond(self) -> Node:
        node = self.binary(0)
        if self.at("?"):
            self.advance()
            then = self.expr()
            self.expect(":")
            other = self.cond()
            node = Node("cond", None, (node, then, other), node.pos, other.end)
        return node

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.at(*_BINARY_LEVELS[level]):
            op = self.advance()
            right = self.binary(level + 1)
            node = Node("binary", op.text, (node, right), node.pos, right.end)
        return node

    def unary(self) -> Node:
        tok = self.tok
        if self.at("-", "+", "!", "~", "*"):
            self.advance()
            operand = self.unary()
            return Node("unary", tok.text, (operand,), tok.pos, operand.end)
        if self.at("&", "++", "--"):
            raise ExprError(f"{_UNSUPPORTED[tok.text]} is not supported in argdist expressions", tok.pos,
                            len(tok.text))
        if self.at("(") and self._cast_ahead():
            self.advance()
            type_text = self._type_name()
            self.expect(")")
            operand = self.unary()
            return Node("cast", type_text, (operand,), tok.pos, operand.end)
        return self.postfix()

    def _cast_ahead(self) -> bool:
        """``(`` starts a cast: a type word follows, or ``(word [*...])`` is followed by an operand (which no
        parenthesized expression can be, so an unknown type is reported as one)."""
        from pyperf_probe.bpf.ctype import is_type_word
        nxt = self.tokens[self.i + 1]
        if nxt.kind != "name":
            return False
        if is_type_word(nxt.text):
            return True
        j = self.i + 2
        while self.tokens[j].kind == "op" and self.tokens[j].text == "*":
            j += 1
        after = self.tokens[j + 1] if self.tokens[j].text == ")" else None
        return after is not None and (after.kind in ("name", "num", "str", "dollar") or after.text == "(")

    def _type_name(self) -> str:
        words = []
        while self.tok.kind == "name" or self.at("*"):
            words.append(self.advance().text)
        return " ".join(words).replace(" *", "*")

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at("["):
                self.advance()
                index = self.expr()
                close = self.expect("]")
                node = Node("index", None, (node, index), node.pos, close.pos + 1)
            elif self.at("->"):
                arrow = self.advance()
                name = self.tok
                if name.kind != "name":
                    raise self.error("expected a field name after '->'")
                self.advance()
                if node.kind == "name" and node.value == "args":
                    node = Node("field", name.text, (), node.pos, name.pos + len(name.text))
                else:
                    node = Node("member", name.text, (node,), arrow.pos, name.pos + len(name.text))
            elif self.at("."):
                tok = self.tok
                raise ExprError("member access with '.' is not supported in argdist expressions", tok.pos)
            else:
                return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.advance()
            return Node("num", tok.value, (), tok.pos, tok.pos + len(tok.text))
        if tok.kind == "str":
            self.advance()
            return Node("str", tok.value, (), tok.pos, tok.pos + len(tok.text))
        if tok.kind == "dollar":
            self.advance()
            if tok.text == "$entry":
                self.expect("(")
                name = self.tok
                if name.kind != "name":
                    raise self.error("expected a parameter name in $entry(...)")
                self.advance()
                close = self.expect(")")
                return Node("entry", name.text, (), tok.pos, close.pos + 1)
            return Node("dollar", tok.text, (), tok.pos, tok.pos + len(tok.text))
        if tok.kind == "name":
            self.advance()
            if tok.text == "STRCMP":
                self.expect("(")
                lit = self.tok
                if lit.kind != "str":
                    raise self.error('STRCMP takes a string literal first: STRCMP("text", expr)')
                self.advance()
                self.expect(",")
                operand = self.expr()
                close = self.expect(")")
                return Node("strcmp", lit.value, (operand,), tok.pos, close.pos + 1)
            if self.at("("):
                raise ExprError(f"calling functions ({tok.text}) is not supported in argdist expressions",
                                tok.pos, len(tok.text))
            return Node("name", tok.text, (), tok.pos, tok.pos + len(tok.text))
        if self.at("("):
            self.advance()
            node = self.expr()
            self.expect(")")
            return node
        raise self.error("expected a value")


def parse(text: str) -> Node:
    """The tree of one expression; ExprError (with the position) if it is outside the language."""
    if not text.strip():
        raise ExprError("empty expression", 0)
    return Parser(text).parse()
