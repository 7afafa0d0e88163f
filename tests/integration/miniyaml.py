"""A small YAML subset reader/writer for the integration harness (the image has no PyYAML).

Enough for the gateway file and the policy bundle: block mappings and sequences (including
compact "- key: value" items and a sequence at the same indent as its key), flow "[...]" and
"{...}" collections (possibly spanning lines), plain/single/double-quoted scalars, literal and
folded block scalars, comments, one document. No anchors, tags or multi-documents.

Scalars keep how they were written so a round trip does not change their meaning: plain scalars
come back as `Plain` (a str subclass) and are written unquoted; quoted ones are plain `str` and
are written double-quoted. Python ints, floats, bools and None are written as YAML plain scalars.
"""

import json
import re


class Plain(str):
    """A plain (unquoted) scalar, written back verbatim."""


class YamlError(ValueError):
    pass


def _strip_comment(line):
    out, quote, i = [], None, 0
    while i < len(line):
        c = line[i]
        if quote:
            out.append(c)
            if quote == '"' and c == "\\" and i + 1 < len(line):
                out.append(line[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"" and (not out or out[-1] in " \t[{,:-"):
            quote = c
            out.append(c)
        elif c == "#" and (not out or out[-1] in " \t"):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out).rstrip()


class _Lines:
    def __init__(self, text):
        self.raw = text.splitlines()
        self.items = []  # (indent, content, raw index)
        for n, raw in enumerate(self.raw):
            if raw.strip() in ("---", "..."):
                continue
            content = _strip_comment(raw)
            if not content.strip():
                continue
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise YamlError(f"line {n + 1}: tab in indentation")
            self.items.append((len(content) - len(content.lstrip(" ")), content.strip(), n))


def loads(text):
    lines = _Lines(text)
    if not lines.items:
        return None
    node, i = _block(lines, 0, lines.items[0][0])
    if i != len(lines.items):
        raise YamlError(f"line {lines.items[i][2] + 1}: unexpected content")
    return node


def _block(lines, i, indent):
    if lines.items[i][1] == "-" or lines.items[i][1].startswith("- "):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"\[\]{}#][^#]*?)\s*:(?:\s+|$)(.*)$""")


def _split_key(content, lineno):
    m = _KEY.match(content)
    if not m:
        raise YamlError(f"line {lineno + 1}: expected 'key: value', got {content!r}")
    key = m.group(1)
    if key[0] in "'\"":
        key = _scalar(key, lineno)
    return str(key), m.group(2)


def _mapping(lines, i, indent):
    out = {}
    while i < len(lines.items):
        ind, content, n = lines.items[i]
        if ind < indent:
            break
        if ind > indent:
            raise YamlError(f"line {n + 1}: bad indentation")
        if content.startswith("- ") or content == "-":
            break
        key, rest = _split_key(content, n)
        if key in out:
            raise YamlError(f"line {n + 1}: duplicate key {key!r}")
        value, i = _value(lines, i, indent, rest, n)
        out[key] = value
    return out, i


def _sequence(lines, i, indent):
    out = []
    while i < len(lines.items):
        ind, content, n = lines.items[i]
        if ind < indent or not (content == "-" or content.startswith("- ")):
            break
        if ind > indent:
            raise YamlError(f"line {n + 1}: bad indentation")
        rest = content[1:].lstrip(" ")
        if not rest:
            i += 1
            if i < len(lines.items) and lines.items[i][0] > indent:
                value, i = _block(lines, i, lines.items[i][0])
            else:
                value = None
            out.append(value)
            continue
        item_indent = indent + (len(content) - len(rest))
        if rest.startswith("- ") or (_KEY.match(rest) and rest[0] not in "[{"):
            # Compact nested block: re-read this line's remainder at its own column.
            lines.items[i] = (item_indent, rest, n)
            value, i = _block(lines, i, item_indent)
        else:
            value, i = _value(lines, i, indent, rest, n)
        out.append(value)
    return out, i


def _value(lines, i, indent, rest, n):
    """Value after 'key:' or '- ' on line i; returns (value, next line index)."""
    if rest in ("|", "|-", "|+", ">", ">-", ">+"):
        return _block_scalar(lines, i, indent, rest)
    if rest.startswith("[") or rest.startswith("{"):
        text, i = _gather_flow(lines, i, rest)
        value, pos = _flow(text, 0, n)
        if text[pos:].strip():
            raise YamlError(f"line {n + 1}: trailing text after flow collection")
        return value, i
    if rest:
        return _scalar(rest, n), i + 1
    i += 1
    if i < len(lines.items):
        ind, content, _ = lines.items[i]
        if ind > indent:
            return _block(lines, i, ind)
        if ind == indent and (content == "-" or content.startswith("- ")):
            return _sequence(lines, i, indent)
    return None, i


def _block_scalar(lines, i, indent, style):
    start = lines.items[i][2] + 1
    raw = lines.raw
    body, j = [], start
    block_indent = None
    while j < len(raw):
        line = raw[j]
        if line.strip():
            ind = len(line) - len(line.lstrip(" "))
            if ind <= indent:
                break
            if block_indent is None:
                block_indent = ind
            body.append(line[block_indent:])
        else:
            body.append("")
        j += 1
    while i < len(lines.items) and lines.items[i][2] < j:
        i += 1
    while body and not body[-1]:
        body.pop()
    if style.startswith(">"):
        text = " ".join(b for b in body)
    else:
        text = "\n".join(body)
    if not style.endswith("-"):
        text += "\n"
    return text, i


def _gather_flow(lines, i, rest):
    text, depth = rest, 0
    while True:
        depth = _depth(text)
        i += 1
        if depth <= 0 or i >= len(lines.items):
            return text, i
        text += " " + lines.items[i][1]


def _depth(text):
    depth, quote = 0, None
    for c in text:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
    return depth


def _flow(text, pos, n):
    while text[pos] == " ":
        pos += 1
    c = text[pos]
    if c in "[{":
        close = "]" if c == "[" else "}"
        result = [] if c == "[" else {}
        pos += 1
        while True:
            while pos < len(text) and text[pos] in " ,":
                pos += 1
            if pos >= len(text):
                raise YamlError(f"line {n + 1}: unterminated flow collection")
            if text[pos] == close:
                return result, pos + 1
            if c == "[":
                item, pos = _flow(text, pos, n)
                result.append(item)
            else:
                key, pos = _flow_scalar(text, pos, n, key=True)
                while text[pos] == " ":
                    pos += 1
                if text[pos] != ":":
                    raise YamlError(f"line {n + 1}: expected ':' in flow mapping")
                item, pos = _flow(text, pos + 1, n)
                result[str(key)] = item
    return _flow_scalar(text, pos, n)


def _flow_scalar(text, pos, n, key=False):
    while text[pos] == " ":
        pos += 1
    if text[pos] in "'\"":
        q = text[pos]
        j = pos + 1
        while j < len(text):
            if q == '"' and text[j] == "\\":
                j += 2
                continue
            if text[j] == q:
                if q == "'" and j + 1 < len(text) and text[j + 1] == "'":
                    j += 2
                    continue
                break
            j += 1
        return _scalar(text[pos : j + 1], n), j + 1
    j = pos
    while j < len(text) and text[j] not in ",]}":
        if text[j] == ":" and (j + 1 >= len(text) or text[j + 1] in " ,]}") and key:
            break
        j += 1
    return _scalar(text[pos:j].strip(), n), j


def _scalar(text, n):
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return json.loads(text)
        except ValueError as e:
            raise YamlError(f"line {n + 1}: bad double-quoted string: {e}") from None
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return Plain(text)


# ---------------------------------------------------------------------------------------------
# Writer

_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")


def _emit_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, Plain):
        return str(v)
    return json.dumps(str(v), ensure_ascii=False)


def _emit_key(k):
    return k if _SAFE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def dumps(node):
    out = []
    _emit(node, 0, out)
    return "\n".join(out) + "\n"


def _emit(node, indent, out):
    pad = " " * indent
    if isinstance(node, dict):
        if not node:
            out.append(pad + "{}")
        for k, v in node.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{_emit_key(k)}:")
                _emit(v, indent + 2, out)
            else:
                out.append(f"{pad}{_emit_key(k)}: {_emit_inline(v)}")
    elif isinstance(node, list):
        if not node:
            out.append(pad + "[]")
        for v in node:
            if isinstance(v, (dict, list)) and v:
                sub = []
                _emit(v, indent + 2, sub)
                out.append(pad + "- " + sub[0][indent + 2 :])
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {_emit_inline(v)}")
    else:
        out.append(pad + _emit_inline(node))


def _emit_inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _emit_scalar(v)
