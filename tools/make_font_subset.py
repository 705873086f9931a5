"""Rebuild the shipped CJK font subset (needs Debian's fonts-noto-cjk and fontTools). Run from the repository root."""
import pathlib, sys
from fontTools.ttLib import TTCollection
from fontTools import subset
ttc = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
coll = TTCollection(ttc)
idx = [i for i, f in enumerate(coll.fonts) if f["name"].getDebugName(1) == "Noto Sans CJK SC"][0]
print("face", idx)
chars = set()
for p in pathlib.Path("course_lib/data").glob("*.t*"):
    if p.suffix in (".txt", ".tsv"):
        chars |= set(p.read_text(encoding="utf-8"))
gb = set()
for hi in range(0xB0, 0xF8):
    for lo in range(0xA1, 0xFF):
        try: gb.add(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError: pass
extra = set("".join(chr(c) for c in range(0x20, 0x7F))) | set("，。、；：？！“”‘’（）《》【】…—·「」『』〈〉零一二三四五六七八九十百千万亿两")
extra |= {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF01, 0xFF5F)}
allc = chars | gb | extra
print("data chars", len(chars), "gb2312", len(gb), "total", len(allc))
opts = subset.Options(); opts.font_number = idx; opts.layout_features = []; opts.name_IDs = ["*"]; opts.name_languages = ["*"]; opts.notdef_outline = True; opts.hinting = False
font = subset.load_font(ttc, opts)
s = subset.Subsetter(opts); s.populate(unicodes=[ord(c) for c in allc]); s.subset(font)
cmap = font.getBestCmap(); missing = [c for c in chars if ord(c) not in cmap and not c.isspace()]
print("missing data chars:", len(missing), "".join(sorted(missing))[:80])
out = sys.argv[1] if len(sys.argv) > 1 else "course_lib/data/fonts/NotoSansCJKsc-Regular-subset.otf"
pathlib.Path(out).parent.mkdir(exist_ok=True)
subset.save_font(font, out, opts)
print(pathlib.Path(out).stat().st_size)

# Rename the family, so the shipped subset never hides behind (or is hidden by) an installed Noto Sans CJK SC.
font = subset.load_font(out, subset.Options())
for record in font["name"].names:
    if record.nameID in (1, 3, 4, 16):
        record.string = "Course Noto Sans SC subset"
    elif record.nameID == 6:
        record.string = "CourseNotoSansSC-subset"
font.save(out)
