-- Pandoc-path filter: give pandoc what Quarto does natively for the subset ces supports.
--  * `fig-alt` on an image becomes its HTML alt text (Quarto's own attribute);
--  * images of computed figures (_figures/<figure>/<file>) without alt text get the
--    figure's declared alt, and a data-ces-figure attribute naming the figure.
-- Figure metadata arrives as `ces-figures` in the document metadata (written by ces).

local figures = {}

function Meta(meta)
  if meta["ces-figures"] then
    for name, fig in pairs(meta["ces-figures"]) do
      figures[name] = { alt = pandoc.utils.stringify(fig.alt or "") }
    end
  end
end

local function fix(img)
  local alt = img.attributes["fig-alt"]
  img.attributes["fig-alt"] = nil
  local name = img.src:match("_figures/([^/]+)/")
  if name then
    img.attributes["data-ces-figure"] = name
    if not alt and figures[name] then alt = figures[name].alt end
  end
  if alt then img.attributes["alt"] = alt end
  return img
end

return {
  { Meta = Meta },
  { Image = fix },
}
