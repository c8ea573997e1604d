// Tessera: keeps <iframe>, <video> and <audio> in the lesson editor. ProseMirror drops any
// element its schema does not know, so without this node a saved Vimeo embed would vanish the
// next time the lesson is opened. The server's allowlist (apps/offerings/content.py) decides
// which hosts may stay.
import { Node } from "django-prose-editor/editor"

const KEPT = ["src", "width", "height", "title", "allow", "allowfullscreen", "controls", "poster", "preload"]

function attrsOf(element) {
  const attrs = { tag: element.tagName.toLowerCase() }
  for (const name of KEPT) {
    if (element.hasAttribute(name)) attrs[name] = element.getAttribute(name)
  }
  if (!attrs.src) {
    const source = element.querySelector("source[src]")
    if (source) attrs.src = source.getAttribute("src")
  }
  return attrs
}

export const Embed = Node.create({
  name: "embed",
  group: "block",
  atom: true,
  draggable: true,

  addAttributes() {
    const attributes = { tag: { default: "iframe", renderHTML: () => ({}) } }
    for (const name of KEPT) attributes[name] = { default: null }
    return attributes
  },

  parseHTML() {
    return ["iframe", "video", "audio"].map((tag) => ({ tag, getAttrs: attrsOf }))
  },

  renderHTML({ node, HTMLAttributes }) {
    return [node.attrs.tag || "iframe", HTMLAttributes]
  },
})
