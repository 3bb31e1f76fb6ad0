"""Route lookup that tries one pattern, not every route of a prefix, per request.

aiohttp indexes a route by the part of its path before the first `{`, so every route of a guild
(`/api/v1/guilds/{guild_id}/...`, about a hundred) sits in one list, and a request tried their
patterns one by one: a fifth of a kept answer's CPU. `SegmentDispatcher` answers exactly as
aiohttp's router does (same routes, same order among routes that both match, same 404 and 405),
but first narrows each list to the routes whose path fits the request's segment by segment: a
literal segment must be equal, a `{name}` segment anything non-empty without `/`, `{` or `}`
(aiohttp's own default pattern). Routes of another form (a custom pattern, a placeholder inside a
segment) are always tried, in their place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.abc import AbstractMatchInfo
from aiohttp.web_urldispatcher import AbstractResource, DynamicResource, MatchInfoError

__all__ = ["SegmentDispatcher"]

_PLACEHOLDER = re.compile(r"\{[_a-zA-Z][_a-zA-Z0-9]*\}")
# A placeholder with aiohttp's default pattern, as it compiles it (DynamicResource.GOOD).
_DEFAULT_GROUP = re.compile(
    re.escape("(?P<") + r"\w+" + re.escape(">" + DynamicResource.GOOD + ")")
)


@dataclass
class _Node:
    """Routes by their next path segment: a literal one, or a placeholder."""

    literal: dict[str, _Node] = field(default_factory=dict)
    placeholder: _Node | None = None
    ends_here: list[tuple[int, AbstractResource]] = field(default_factory=list)

    def add(self, segments: list[str], entry: tuple[int, AbstractResource]) -> None:
        node = self
        for segment in segments:
            if _PLACEHOLDER.fullmatch(segment):
                node.placeholder = node.placeholder or _Node()
                node = node.placeholder
            else:
                node = node.literal.setdefault(segment, _Node())
        node.ends_here.append(entry)

    def collect(
        self, segments: list[str], at: int, found: list[tuple[int, AbstractResource]]
    ) -> None:
        node = self
        # One branch at a time without recursing (the usual case: a literal segment or a
        # placeholder fits, not both); both fit: the literal's branch is followed recursively.
        while at < len(segments):
            segment = segments[at]
            at += 1
            following = node.literal.get(segment)
            placeholder = node.placeholder
            if placeholder is not None and (not segment or "{" in segment or "}" in segment):
                placeholder = None
            if following is None:
                if placeholder is None:
                    return
                node = placeholder
            else:
                if placeholder is not None:
                    following.collect(segments, at, found)
                    node = placeholder
                else:
                    node = following
        found += node.ends_here


@dataclass
class _Bucket:
    """The resources of one index key: those narrowed by segments, and the others."""

    tree: _Node = field(default_factory=_Node)
    always: list[tuple[int, AbstractResource]] = field(default_factory=list)

    def candidates(self, path: str) -> list[AbstractResource]:
        found = list(self.always)
        self.tree.collect(path.split("/"), 0, found)
        if len(found) > 1:
            found.sort(key=lambda entry: entry[0])  # registration order, as aiohttp tries them
        return [resource for _index, resource in found]


def _segments(resource: AbstractResource) -> list[str] | None:
    """The canonical path's segments when every placeholder is a whole `{name}` segment of
    aiohttp's default pattern (a canonical path shows `{name:.+}` as `{name}` too: the pattern
    tells them apart)."""
    if isinstance(resource, DynamicResource):
        pattern = resource.get_info()["pattern"].pattern
        if "(?P<" in _DEFAULT_GROUP.sub("", pattern):
            return None
    elif not isinstance(resource, web.PlainResource):
        return None
    segments = resource.canonical.split("/")
    for segment in segments:
        if ("{" in segment or "}" in segment) and not _PLACEHOLDER.fullmatch(segment):
            return None
    return segments


class SegmentDispatcher(web.UrlDispatcher):
    """aiohttp's router with each index list narrowed by the request's path segments."""

    def __init__(self) -> None:
        super().__init__()
        self._buckets: dict[str, _Bucket] | None = None

    def index_resource(self, resource: AbstractResource) -> None:
        super().index_resource(resource)
        self._buckets = None  # built again, once, at the next request

    def unindex_resource(self, resource: AbstractResource) -> None:
        super().unindex_resource(resource)
        self._buckets = None

    def _built(self) -> dict[str, _Bucket]:
        order = {id(resource): index for index, resource in enumerate(self._resources)}
        buckets: dict[str, _Bucket] = {}
        for key, resources in self._resource_index.items():
            bucket = buckets[key] = _Bucket()
            for resource in resources:
                entry = (order.get(id(resource), len(order)), resource)
                segments = _segments(resource)
                if segments is None:
                    bucket.always.append(entry)
                else:
                    bucket.tree.add(segments, entry)
        return buckets

    async def resolve(self, request: web.Request) -> AbstractMatchInfo:
        # aiohttp's walk (UrlDispatcher.resolve), with the narrowed lists.
        if self._matched_sub_app_resources:
            return await super().resolve(request)
        buckets = self._buckets
        if buckets is None:
            buckets = self._buckets = self._built()
        allowed_methods: set[str] = set()
        path = url_part = request.rel_url.path_safe
        while url_part:
            bucket = buckets.get(url_part)
            if bucket is not None:
                for candidate in bucket.candidates(path):
                    match_dict, allowed = await candidate.resolve(request)
                    if match_dict is not None:
                        return match_dict
                    allowed_methods |= allowed
            if url_part == "/":
                break
            url_part = url_part.rpartition("/")[0] or "/"
        if allowed_methods:
            return MatchInfoError(web.HTTPMethodNotAllowed(request.method, allowed_methods))
        return MatchInfoError(web.HTTPNotFound())
