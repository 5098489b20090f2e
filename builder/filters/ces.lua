-- ces' filter, applied by both renderers (the embedded pandoc always, Quarto from _quarto.yml):
--  * `fig-alt` on an image becomes its HTML alt text (Quarto's own attribute);
--  * images of computed figures (_figures/<figure>/<file>) without alt text get the
--    figure's declared alt, and a data-ces-figure attribute naming the figure;
--  * each such image carries its intrinsic size (`sizes`, in CSS px, read by ces from the
--    SVG's width/height or the PNG's header): width and height attributes when the slide gave
--    no size, else an aspect-ratio in its style. The box is known before the lazy image loads,
--    so a slide reached directly (#/19, G+number, the overview) is laid out right.
-- Figure metadata arrives as `ces-figures` in the document metadata (ces passes it with
-- --metadata-file to pandoc and to Quarto alike).

local figures = {}

local function number(v)
  return tonumber(pandoc.utils.stringify(v or ""))
end

function Meta(meta)
  if meta["ces-figures"] then
    for name, fig in pairs(meta["ces-figures"]) do
      local sizes = {}
      for file, size in pairs(fig.sizes or {}) do
        local w, h = number(size.width), number(size.height)
        if w and h and w > 0 and h > 0 then sizes[file] = { w = w, h = h } end
      end
      figures[name] = { alt = pandoc.utils.stringify(fig.alt or ""), sizes = sizes }
    end
  end
end

local function fix(img)
  if img.attributes["data-ces-figure"] then return img end  -- done already (a project listing it too)
  local alt = img.attributes["fig-alt"]
  img.attributes["fig-alt"] = nil
  local name, file = img.src:match("_figures/([^/]+)/([^/?#]+)")
  if name then
    img.attributes["data-ces-figure"] = name
    local fig = figures[name]
    if fig then
      if not alt then alt = fig.alt end
      local size = fig.sizes[file]
      if size then
        if not img.attributes["width"] and not img.attributes["height"] then
          img.attributes["width"] = tostring(math.floor(size.w + 0.5))
          img.attributes["height"] = tostring(math.floor(size.h + 0.5))
        else
          local style = img.attributes["style"] or ""
          if style ~= "" and not style:match(";%s*$") then style = style .. ";" end
          img.attributes["style"] = style .. string.format("aspect-ratio:%d/%d;height:auto",
            math.floor(size.w + 0.5), math.floor(size.h + 0.5))
        end
      end
    end
  end
  if alt then img.attributes["alt"] = alt end
  return img
end

return {
  { Meta = Meta },
  { Image = fix },
}
