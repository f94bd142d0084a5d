"""The content folder as it would be with a draft: the draft's text read in place of its file, and the
photos uploaded with it (kept apart until the draft is approved) found beside the folder's own.

`kiosk county validate` reads the folder with a FolderReader; the studio reads it with a DraftReader,
so a draft is checked, and previewed, by the same code that checks and publishes the folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from sync.contract.checks import FolderReader, Where
from sync.contract.media import media_problem
from sync.contract.source import SourceFile, parse_markdown, parse_yaml

# What the studio names an uploaded photo: its content's SHA-256, as the kiosk's own photo store does.
STAGED_NAME = re.compile(r"[0-9a-f]{64}\.(?:jpg|png|webp)")


class DraftReader(FolderReader):
    """A FolderReader of *root* that reads *drafts* (path -> text) in place of those files (or as new files),
    and takes a photo `media/<name>` from *staged* when the folder has none of that name."""

    def __init__(self, root: Path, drafts: dict[str, str], staged: Path | None = None) -> None:
        super().__init__(root)
        self.drafts = drafts
        self.staged = staged

    def source(self, relative: str, markdown: bool = False) -> SourceFile:
        if relative not in self.drafts:
            return super().source(relative, markdown)
        text = self.drafts[relative]
        return parse_markdown(text, relative) if markdown else parse_yaml(text, relative)

    def read_folder(self, folder: str, suffix: str, schema: str, required: bool = False) -> list[SourceFile]:
        """The folder's files, with the drafts of new files in it (a new guide, a new year of the calendar) among
        them in the order of their names."""
        sources = super().read_folder(folder, suffix, schema, required)
        new = [path for path in self.drafts if path.startswith(f"{folder}/") and "/" not in path[len(folder) + 1 :]
               and path.endswith(suffix) and not (self.root / path).exists()]  # fmt: skip
        for path in new:
            if (source := self.read(path, schema, markdown=suffix == ".md")) is not None:
                sources.append(source)
        return sorted(sources, key=lambda source: source.path) if new else sources

    def check_media(self, source: SourceFile, where: Where, ref: str, media: dict[str, Path]) -> None:
        file = staged_photo(self.staged, ref) if not (self.root / ref).exists() else None
        if file is None:
            super().check_media(source, where, ref, media)
        elif problem := media_problem(file.parent.parent, ref):
            self.problem(source, where, problem)
        else:
            media[ref] = file


def staged_photo(staged: Path | None, ref: str) -> Path | None:
    """The uploaded photo *ref* (`media/<sha256>.jpg`) names in the folder *staged*, or None."""
    name = ref.removeprefix("media/")
    if staged is None or not ref.startswith("media/") or not STAGED_NAME.fullmatch(name):
        return None
    file = staged / "media" / name
    return file if file.is_file() else None


def staged_refs(text: str) -> list[str]:
    """The photos a draft's *text* names that may be uploads (`media/<sha256>.jpg`), each once."""
    return list(dict.fromkeys(re.findall(rf"media/{STAGED_NAME.pattern}", text)))
