"""Reading a Dockerfile the way BuildKit's parser does, far enough to check what it names.

Only what the build policy (``paas.build.dockerfile_policy``) needs: parser directives, logical
instructions (continuations joined with the file's escape character, comment and blank lines
inside them skipped), the ``--flag`` words before an instruction's arguments, and the shell-word
expansion BuildKit applies to a ``FROM`` image name.

Where this parser and BuildKit could disagree it errs towards seeing more instructions, never
fewer: it knows no heredocs, so a heredoc's body is read as instructions too (and checked).
"""

import re
from dataclasses import dataclass

from paas.errors import UserError

# BuildKit: "^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$", read only at the top of the file.
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_INSTRUCTION_RE = re.compile(r"^(\S+)\s*(.*)$", re.DOTALL)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Go's unicode.IsSpace, which BuildKit trims with. Python's str.strip() trims more (\x1c-\x1f):
# a line of "\x1c" would be blank here and an instruction's tail there, and the next line would
# then hide inside a continuation here while BuildKit runs it.
GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    flags: tuple[str, ...]  # "--name=value" words, quotes and escapes removed
    arguments: str  # the rest of the logical line, continuations joined
    line: int  # where it starts, counting from 1

    def flag_values(self, name: str) -> list[str]:
        """The values of ``--name=...`` (names compared case-insensitively)."""
        values = []
        for flag in self.flags:
            key, _, value = flag[2:].partition("=")
            if key.lower() == name:
                values.append(value)
        return values


@dataclass(frozen=True)
class Dockerfile:
    directives: dict[str, str]  # lower-case name -> value
    escape: str
    instructions: tuple[Instruction, ...]


def parse_dockerfile(text: str) -> Dockerfile:
    """Split ``text`` into directives and instructions.

    Raises UserError(dockerfile_invalid) for an escape directive BuildKit would refuse.
    """
    text = text.removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    directives: dict[str, str] = {}
    position = 0
    while position < len(lines):
        match = _DIRECTIVE_RE.match(lines[position])
        if not match:
            break
        directives.setdefault(match.group(1).lower(), match.group(2))
        position += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise UserError(f"Dockerfile: invalid escape directive {escape!r}; use \\ or `",
                        code="dockerfile_invalid")
    instructions = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(lines[position:], start=position + 1):
        stripped = raw.strip(GO_SPACE)
        if not current and not stripped:
            continue
        if stripped.startswith("#") or (current and not stripped):
            continue  # a comment, or a blank line inside a continued instruction
        if not current:
            start = number
        trimmed = raw.rstrip(" \t")  # BuildKit: the escape, then only spaces and tabs
        if trimmed.endswith(escape):
            current.append(trimmed[:-1])
            continue
        current.append(raw)
        instructions.append(parse_instruction("".join(current), start))
        current = []
    if current:
        instructions.append(parse_instruction("".join(current), start))
    return Dockerfile(directives, escape, tuple(i for i in instructions if i is not None))


def parse_instruction(logical_line: str, line: int) -> Instruction | None:
    """One logical line as an instruction; None for a blank one."""
    match = _INSTRUCTION_RE.match(logical_line.strip(GO_SPACE))
    if not match:
        return None
    arguments, flags = extract_flags(match.group(2))
    return Instruction(match.group(1).upper(), tuple(flags), arguments.strip(), line)


def extract_flags(text: str) -> tuple[str, list[str]]:
    """The ``--flag`` words at the start of ``text`` and the rest, as BuildKit's
    ``extractBuilderFlags`` reads them: quotes group, a backslash (whatever the escape
    directive says) takes the next character literally, ``--`` alone ends the flags."""
    words: list[str] = []
    position = 0
    length = len(text)
    while True:
        while position < length and text[position].isspace():
            position += 1
        if not text.startswith("--", position):
            return text[position:], words
        word: list[str] = []
        quote = ""
        while position < length:
            char = text[position]
            if not quote and char.isspace():
                break
            if not quote and char in "'\"":
                quote = char
            elif quote and char == quote:
                quote = ""
            elif char == "\\":
                position += 1
                if position < length:
                    word.append(text[position])
            else:
                word.append(char)
            position += 1
        flag = "".join(word)
        if flag == "--":
            return text[position:], words
        words.append(flag)
        if position >= length:
            return "", words


class Unresolved(Exception):
    """A word that names a variable with no known value, or an expansion paas does not read."""


def expand_word(word: str, variables: dict[str, str | None], escape: str = "\\") -> str:
    """``word`` after BuildKit's shell-word processing: quotes removed, escapes applied and
    ``$NAME``, ``${NAME}``, ``${NAME:-x}``, ``${NAME-x}``, ``${NAME:+x}``, ``${NAME+x}`` expanded
    from ``variables`` (None: declared without a value).

    Raises Unresolved for a variable that is unknown or has no value, or any other ``${...}``.
    """
    result: list[str] = []
    position = 0
    quote = ""
    while position < len(word):
        char = word[position]
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                result.append(char)
            position += 1
        elif char == escape and position + 1 < len(word) and \
                (not quote or word[position + 1] in ('"', "$", escape)):
            result.append(word[position + 1])
            position += 2
        elif char in "'\"" and not quote:
            quote = char
            position += 1
        elif char == '"' and quote == '"':
            quote = ""
            position += 1
        elif char == "$":
            value, position = _expand_variable(word, position, variables, escape)
            result.append(value)
        else:
            result.append(char)
            position += 1
    return "".join(result)


def _expand_variable(word: str, position: int, variables: dict[str, str | None],
                     escape: str) -> tuple[str, int]:
    """The value of the variable at ``word[position]`` (a ``$``) and where the word goes on."""
    rest = word[position + 1:]
    if rest.startswith("{"):
        close = _closing_brace(rest)
        body = rest[1:close]
        name_match = _NAME_RE.match(body)
        if not name_match:
            raise Unresolved(f"${{{body}}}")
        name, operator = name_match.group(), body[name_match.end():]
        end = position + 1 + close + 1
        for prefix in (":-", ":+", "-", "+"):
            if operator.startswith(prefix):
                alternative = expand_word(operator[len(prefix):], variables, escape)
                is_set = name in variables and variables[name] is not None
                is_empty = not variables.get(name)
                if prefix == ":-":
                    return (alternative if is_empty else str(variables[name])), end
                if prefix == "-":
                    return (str(variables[name]) if is_set else alternative), end
                if prefix == ":+":
                    return ("" if is_empty else alternative), end
                return (alternative if is_set else ""), end
        if operator:
            raise Unresolved(f"${{{body}}}")
        return _value(name, variables), end
    name_match = _NAME_RE.match(rest)
    if not name_match:
        return "$", position + 1
    return _value(name_match.group(), variables), position + 1 + name_match.end()


def _closing_brace(text: str) -> int:
    depth = 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    raise Unresolved(text)


def _value(name: str, variables: dict[str, str | None]) -> str:
    value = variables.get(name)
    if value is None:
        raise Unresolved(f"${name}")
    return value
