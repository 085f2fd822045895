// JSON pretty-printed line by line, each line knowing its JSON Pointer, so that a
// structural diff can mark exactly the members a patch touched.

/** Escape one JSON Pointer token (RFC 6901). */
export function pointerToken(name) {
  return String(name).replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * The lines of `value` pretty-printed: [{text, path}], `path` the JSON Pointer of the
 * member the line shows ("" for the whole value).
 */
export function jsonLines(value, path = "", indent = 0, label = "", comma = "") {
  const pad = "  ".repeat(indent);
  const head = `${pad}${label}`;
  if (Array.isArray(value) && value.length) {
    const lines = [{ text: `${head}[`, path }];
    value.forEach((item, i) => {
      lines.push(...jsonLines(item, `${path}/${i}`, indent + 1, "", i < value.length - 1 ? "," : ""));
    });
    lines.push({ text: `${pad}]${comma}`, path });
    return lines;
  }
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    const names = Object.keys(value);
    const lines = [{ text: `${head}{`, path }];
    names.forEach((name, i) => {
      lines.push(...jsonLines(value[name], `${path}/${pointerToken(name)}`, indent + 1,
        `${JSON.stringify(name)}: `, i < names.length - 1 ? "," : ""));
    });
    lines.push({ text: `${pad}}${comma}`, path });
    return lines;
  }
  return [{ text: `${head}${JSON.stringify(value)}${comma}`, path }];
}

/** Whether `path` is `root` or inside it (JSON Pointers). */
export function within(path, root) {
  return root === "" || path === root || path.startsWith(`${root}/`);
}

/** The pointers an RFC 6902 patch touches on the old side and on the new side. */
export function touched(patch) {
  const old = [];
  const now = [];
  for (const op of patch) {
    if (op.op === "remove" || op.op === "replace") old.push(op.path);
    if (op.op === "add" || op.op === "replace" || op.op === "copy" || op.op === "move") {
      now.push(op.path);
    }
    if (op.op === "move") old.push(op.from);
  }
  return { old, now };
}
