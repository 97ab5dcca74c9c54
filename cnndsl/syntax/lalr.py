"""The lexer and LALR(1) parser that run the tables lark computes (see NOTE: parser tables in
tables.py). Nothing here knows the .cnn language: it is all in the tables and in ToAst."""
from __future__ import annotations

import re
from collections.abc import Iterator


class Token:
    """A terminal of the grammar: its type, its text and where it is in the source."""

    __slots__ = ("type", "value", "start_pos", "end_pos")
    # Positions are offsets only (spans give lines); these let lark's parser, which copies
    # them onto its end-of-input token, run over these tokens in parse_with_lark.
    line = column = end_line = end_column = None

    def __init__(self, type: str, value: str, start_pos: int, end_pos: int) -> None:
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.start_pos})"

    def retyped(self, type: str) -> Token:
        """The same text at the same place as another terminal."""
        return Token(type, self.value, self.start_pos, self.end_pos)


class LexError(Exception):
    """No terminal matches the text at `pos`."""

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


class ParseError(Exception):
    """`token` cannot come next; `expected` are the terminals that could."""

    def __init__(self, token: Token, expected: set[str]) -> None:
        super().__init__(token)
        self.token = token
        self.expected = expected


class Lexer:
    def __init__(self, tables: dict) -> None:
        self.patterns = [re.compile(p, flags) for p, flags in tables["patterns"]]
        self.ignore = frozenset(tables["ignore"])
        self.retype = {name: [re.compile(p, flags) for p, flags in patterns]
                       for name, patterns in tables["retype"].items()}

    def tokens(self, text: str) -> Iterator[Token]:
        """Tokens in order, ignored ones (spaces, comments) left out: like lark's basic
        lexer, which tries the terminals in priority order and takes the first match."""
        patterns, ignore, retype = self.patterns, self.ignore, self.retype
        single = patterns[0].match if len(patterns) == 1 else None
        retyped: dict = {}  # (type, text) -> type: a long spec repeats a few names
        pos, end = 0, len(text)
        while pos < end:
            m = single(text, pos) if single else _first_match(patterns, text, pos)
            if m is None:
                raise LexError(pos)
            kind = m.lastgroup
            stop = m.end()
            if kind not in ignore:
                value = m.group()
                if kind in retype:
                    known = retyped.get((kind, value))
                    if known is None:
                        known = _retyped(retype[kind], value) or kind
                        if len(retyped) < 10_000:
                            retyped[(kind, value)] = known
                    kind = known
                yield Token(kind, value, pos, stop)
            pos = stop


def _first_match(patterns, text: str, pos: int):
    for pattern in patterns:
        m = pattern.match(text, pos)
        if m:
            return m
    return None


def _retyped(patterns, value: str) -> str | None:
    for pattern in patterns:
        m = pattern.fullmatch(value)
        if m:
            return m.lastgroup
    return None


class Parser:
    """Runs the LALR table over a token stream, calling `methods` (a ToAst) per reduction.

    # NOTE: replayed lines
    # A long spec repeats a few line shapes (`conv k3 p1 64` is NAME COMPACT COMPACT
    # NUMBER _NL whatever its numbers). What the table does over a line depends only on
    # its token types and on the states it reads of the stack: the top one, and those
    # below that its reductions pop down to. So the parser runs a line (the tokens up to a
    # _NL or _BLOCK_END) through the table once per shape and records what it did: the
    # values it shifted and reduced (the same ToAst calls on the same children) and the
    # states it left. A line of a known shape, on the same states, replays that record
    # instead of looking up every action (see `_replay`); anything else runs through the
    # table, so every error is found and reported where it always was.
    """

    MAX_RECORDS = 4096  # line shapes kept per parser; a spec has few

    def __init__(self, tables: dict, methods) -> None:
        self.states = tables["states"]
        self.start = tables["start"]
        self.end = tables["end"]
        self.rules = [(_kind(*rule[1:]), origin, size,
                       _reduction(methods, method, size, keep, nones, single))
                      for rule in tables["rules"]
                      for origin, size, method, keep, nones, single in [rule]]
        self._by_action = self.rules[::-1]  # reduce action -1 - r is [action]: rule r
        self._depth: dict = {}    # (token types, top state) -> stack states a record keys on
        # (token types, those states) -> (ops, the states it leaves, how many it pops)
        self._records: dict = {}

    def parse(self, tokens: Iterator[Token], end_pos: int):
        states, by_action = self.states, self._by_action
        stack = [self.start]
        values: list = []
        line: list[Token] = []
        token = None
        stream = iter(tokens)
        while True:
            try:
                token = next(stream)
            except StopIteration:
                break
            except BaseException:
                # The lexer or the layout found a problem further on: the tokens before it
                # are parsed first, as one at a time would, so a parse error there wins.
                self._run(line, stack, values, None)
                raise
            line.append(token)
            if token.type == "_NL" or token.type == "_BLOCK_END":
                self._line(line, stack, values)
                line = []
        self._run(line, stack, values, None)
        where = token.start_pos if token is not None else 0
        end = Token("$END", "", where, where if token is not None else end_pos)
        while True:
            action = states[stack[-1]].get("$END")
            if action is None:
                raise ParseError(end, _expected(states[stack[-1]]))
            _, origin, size, reduce = by_action[action]
            _reduce(stack, values, size, reduce)
            stack.append(states[stack[-1]][origin])
            if stack[-1] == self.end:
                return values[-1]

    def _line(self, line: list[Token], stack: list, values: list) -> None:
        """One line: replayed where its shape was seen on these states, else run and
        recorded (see NOTE: replayed lines)."""
        shape = tuple([t.type for t in line])
        depth = self._depth.get((shape, stack[-1]))
        if depth is not None and depth <= len(stack):
            record = self._records.get((shape, *stack[-depth:]))
            if record is not None:
                _replay(record, line, stack, values)
                return
        before = stack[:]  # a miss: the states the line reads are known once it has run
        ops: list = []
        low = self._run(line, stack, values, ops)
        needed = len(before) - low + 1  # the lowest state popped down to, and all above
        if depth is None or depth < needed:
            depth = needed
        if len(self._records) >= self.MAX_RECORDS:
            self._records.clear()
            self._depth.clear()
        self._depth[(shape, before[-1])] = depth
        self._records[(shape, *before[-depth:])] = (_fused(ops), tuple(stack[low:]),
                                                     len(before) - low)

    def _run(self, line: list[Token], stack: list, values: list, ops: list | None) -> int:
        """The table's actions for `line`; with `ops`, each shift and value-changing
        reduction is recorded there. Returns the lowest stack height reached."""
        states, by_action = self.states, self._by_action
        call, pass_on, append = _CALL, _PASS, _APPEND
        push, shift = stack.append, values.append
        low = len(stack)
        for index, token in enumerate(line):
            kind = token.type
            while True:
                action = states[stack[-1]].get(kind)
                if action is None:
                    raise ParseError(token, _expected(states[stack[-1]]))
                if action >= 0:
                    push(action)
                    shift(token)
                    if ops is not None:
                        ops.append((_SHIFT, index, 0))
                    break
                # The common reductions are done in place (see _kind); the rest call ToAst.
                how, origin, size, reduce = by_action[action]
                if how == call:  # _reduce, inline: this loop is most of a long spec's parse
                    if size:
                        children = values[-size:]
                        del values[-size:]
                        del stack[-size:]
                        shift(reduce(children))
                    else:
                        shift(reduce([]))
                    if ops is not None:
                        ops.append((_CALL, reduce, size))
                elif how == pass_on:
                    stack.pop()
                elif how == append:
                    last = values.pop()
                    values[-1].append(last)
                    del stack[-2:]
                    if ops is not None:
                        ops.append((_APPEND, 0, 0))
                else:  # _NEW_LIST
                    values[-1] = [values[-1]]
                    stack.pop()
                    if ops is not None:
                        ops.append((_NEW_LIST, 0, 0))
                if len(stack) < low:
                    low = len(stack)
                push(states[stack[-1]][origin])
        return low


def _fused(ops: list) -> tuple:
    """A recorded line's ops with the commonest pairs made one: a token shifted and reduced
    alone (`NAME` to a name), and that value then appended to a list (`word+`)."""
    out: list = []
    for op in ops:
        last = out[-1] if out else None
        if op[0] == _CALL and op[2] == 1 and last is not None and last[0] == _SHIFT:
            out[-1] = (_SHIFT_CALL, op[1], last[1])
        elif op[0] == _APPEND and last is not None and last[0] == _SHIFT_CALL:
            out[-1] = (_SHIFT_CALL_APPEND, last[1], last[2])
        else:
            out.append(op)
    return tuple(out)


def _replay(record, line: list[Token], stack: list, values: list) -> None:
    """What `Parser._run` recorded for a line of this shape on these states, done again."""
    ops, left, popped = record
    shift = values.append
    for op, arg, size in ops:
        if op == _SHIFT_CALL_APPEND:
            values[-1].append(arg([line[size]]))
        elif op == _SHIFT_CALL:
            shift(arg([line[size]]))
        elif op == _SHIFT:
            shift(line[arg])
        elif op == _CALL:
            if size:
                children = values[-size:]
                del values[-size:]
                shift(arg(children))
            else:
                shift(arg([]))
        elif op == _APPEND:
            last = values.pop()
            values[-1].append(last)
        else:  # _NEW_LIST
            values[-1] = [values[-1]]
    if popped:
        del stack[-popped:]
    stack.extend(left)


def _reduce(stack: list, values: list, size: int, reduce) -> None:
    if size:
        children = values[-size:]
        del values[-size:]
        del stack[-size:]
    else:
        children = []
    values.append(reduce(children))


_CALL, _PASS, _NEW_LIST, _APPEND = range(4)
# In a recorded line (see NOTE: replayed lines): a shift, and fused ops (see _fused).
_SHIFT, _SHIFT_CALL, _SHIFT_CALL_APPEND = 4, 5, 6


def _kind(size: int, method: str | None, keep: list, trailing: int, single: bool) -> int:
    """How a rule reduces: _PASS, a `?rule` with its one child, passes it on; _NEW_LIST and
    _APPEND, a `_rule` helper for `x+`/`x*`, start and extend a list (which its parent
    splices in, as lark does); _CALL, anything else, calls the rule's reduction."""
    if trailing:
        return _CALL
    if single and size == 1 and keep == [[0, False, 0]]:
        return _PASS
    if method is None and size == 1 and keep == [[0, False, 0]]:
        return _NEW_LIST
    if method is None and size == 2 and keep == [[0, True, 0], [1, False, 0]]:
        return _APPEND
    return _CALL


def _expected(actions: dict) -> set[str]:
    return {symbol for symbol in actions if symbol.isupper()}


def _reduction(methods, name: str | None, size: int, keep: list, trailing: int,
               single: bool):
    """The function of one rule's children: lark's tree builder with placeholders, for
    an inline transformer (see NOTE: parser tables)."""
    method = getattr(methods, name, None) if name is not None else _same
    if method is None:
        if single and len(keep) == 1 and not keep[0][1] and not keep[0][2] and not trailing:
            return _first
        from .tables import Unsupported

        raise Unsupported(f"no ToAst method `{name}`")
    if single:
        inner = method

        def method(children):
            return children[0] if len(children) == 1 else inner(children)
    if not trailing and not any(splice or nones for _, splice, nones in keep):
        whole = [i for i, _, _ in keep]
        if whole == list(range(size)):
            return method
        return lambda children: method([children[i] for i in whole])

    def filtered(children):
        out = []
        for i, splice, nones in keep:
            if nones:
                out += [None] * nones
            if splice:
                if out:
                    out += children[i]
                else:  # a left-recursive list (`word+`) grows in place, as lark does
                    out = children[i]
            else:
                out.append(children[i])
        if trailing:
            out += [None] * trailing
        return method(out)
    return filtered


def _same(children):
    return children


def _first(children):
    return children[0]
