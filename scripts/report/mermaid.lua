-- Pandoc filter of `make report`: each ```mermaid block becomes a Graphviz drawing (inline SVG)
-- of the same flowchart, through mermaid2dot.py. GitHub draws the Mermaid source itself.
local here = pandoc.path.directory(PANDOC_SCRIPT_FILE)
local translator = pandoc.path.join({here, "mermaid2dot.py"})
local count = 0

function CodeBlock(block)
  if block.classes[1] ~= "mermaid" then
    return nil
  end
  local dot = pandoc.pipe("python3", {translator}, block.text)
  local svg = pandoc.pipe("dot", {"-Tsvg"}, dot)
  -- Keep the <svg> element only (no XML prolog, doctype or comments).
  svg = svg:match("<svg.*</svg>")
  -- Graphviz numbers the elements of every drawing from 1: make the ids unique in the page.
  count = count + 1
  svg = svg:gsub('id="', 'id="mermaid' .. count .. '-')
  return pandoc.RawBlock("html", '<figure class="diagram">' .. svg .. "</figure>")
end
