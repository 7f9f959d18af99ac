"""whylogs' binary profile format ("WHY1"), read and written by gitmlops itself on protobuf.

The committed profiles are the project's monitoring record, so they stay in the format whylogs 1.x
writes and reads (``DatasetProfileView.read``, ``why.read``). The layout, learnt from whylogs 1.6.4:

    b"WHY1"
    varint length + DatasetSegmentHeader      (has_segments, segment tags; empty for one profile)
    varint length + DatasetProfileHeader      (timestamps, metadata, metric path index, column offsets)
    per column, sorted by name, at the offset the header gives (relative to the end of the header):
        varint length + ChunkHeader           (type COLUMN, length of the chunk)
        ChunkMessage                          (metric path index -> MetricComponentMessage)

A metric component is one of: ``n`` (a count, an integer), ``d`` (a float), or the bytes of an Apache
DataSketches sketch (KLL doubles, HLL, frequent strings) in their standard serialized form. The
message definitions below carry whylogs' field numbers and types; they live in their own descriptor
pool so they never clash with whylogs' when both are loaded (the interoperability tests do that).

This module and :mod:`~gitmlops.monitor.profile_build` import no other gitmlops module: a deploy
bundle carries them beside its serving runtime (``serve/bundle.py``) to write request profiles.
Their errors are :class:`ProfileFormatError`; :class:`~gitmlops.monitor.profile_view.Profile` turns
them into gitmlops' ``MonitorError``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"WHY1"
COLUMN_CHUNK = 2
TAG_PREFIX = "whylogs.tag."

#: The kinds of value a metric component holds, by its protobuf field.
COUNT, FLOAT, FREQUENT_ITEMS, HLL, KLL = "n", "d", "frequent_items", "hll", "kll"
SKETCH_FIELDS = (FREQUENT_ITEMS, HLL, KLL)


class ProfileFormatError(ValueError):
    """Bytes that are not a readable whylogs profile; ``hint`` says what to do (as gitmlops' errors)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class Component:
    """One metric component: a ``kind`` (COUNT, FLOAT or a sketch field), its value and whylogs' type id
    (0 for plain values; 1 = integral min, 2 = integral max, which merge by min/max instead of sum)."""

    kind: str
    value: Any
    type_id: int = 0


@dataclass
class ProfileData:
    """A dataset profile as stored: per column, metric path (``counts/n``, ``distribution/kll``...) -> component."""

    columns: dict[str, dict[str, Component]] = field(default_factory=dict)
    dataset_timestamp: int = 0
    creation_timestamp: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    #: (column, value) of the segment this profile is of (whylogs' segment tags, without their prefix)
    segment_tags: list[tuple[str, str]] = field(default_factory=list)


def _messages() -> dict[str, Any]:
    """The message classes, built once from our own descriptor (field numbers as whylogs')."""
    global _MESSAGES
    if _MESSAGES is not None:
        return _MESSAGES
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="gitmlops/profile_format.proto", package="gitmlops.profile",
                                             syntax="proto3")
    f = descriptor_pb2.FieldDescriptorProto
    optional, repeated = f.LABEL_OPTIONAL, f.LABEL_REPEATED

    def message(name: str, fields: list[tuple[str, int, int, str]], parent: Any = None) -> Any:
        msg = (parent.nested_type if parent is not None else fdp.message_type).add(name=name)
        for fname, number, ftype, type_name in fields:
            label = repeated if type_name.endswith("[]") else optional
            added = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name.rstrip("[]"):
                added.type_name = type_name.rstrip("[]")
        return msg

    def map_entry(parent: Any, name: str, key_type: int, value_type: int, value_name: str = "") -> None:
        entry = message(name, [("key", 1, key_type, ""), ("value", 2, value_type, value_name)], parent)
        entry.options.map_entry = True

    pkg = ".gitmlops.profile."
    for sketch in ("HllSketchMessage", "FrequentItemsSketchMessage", "KllSketchMessage", "CpcSketchMessage"):
        message(sketch, [("sketch", 1, f.TYPE_BYTES, "")])
    component = message("MetricComponentMessage", [
        ("type_id", 1, f.TYPE_UINT32, ""), ("n", 2, f.TYPE_INT64, ""), ("d", 3, f.TYPE_DOUBLE, ""),
        ("frequent_items", 4, f.TYPE_MESSAGE, pkg + "FrequentItemsSketchMessage"),
        ("hll", 5, f.TYPE_MESSAGE, pkg + "HllSketchMessage"), ("kll", 6, f.TYPE_MESSAGE, pkg + "KllSketchMessage"),
        ("cpc", 7, f.TYPE_MESSAGE, pkg + "CpcSketchMessage"), ("serialized_bytes", 10, f.TYPE_BYTES, ""),
    ])
    # The value is a oneof (so a zero count is written, and whylogs knows which kind it is).
    component.oneof_decl.add(name="value")
    for value_field in component.field[1:]:
        value_field.oneof_index = 0
    chunk = message("ChunkMessage", [("metric_components", 1, f.TYPE_MESSAGE, pkg + "ChunkMessage.MetricComponentsEntry[]")])
    map_entry(chunk, "MetricComponentsEntry", f.TYPE_UINT32, f.TYPE_MESSAGE, pkg + "MetricComponentMessage")
    message("ChunkHeader", [("type", 1, f.TYPE_INT32, ""), ("tag", 2, f.TYPE_STRING, ""),
                            ("length", 3, f.TYPE_UINT32, "")])
    message("ChunkOffsets", [("offsets", 1, f.TYPE_INT64, "[]")])
    props = message("DatasetProperties", [
        ("schema_major_version", 1, f.TYPE_UINT32, ""), ("schema_minor_version", 2, f.TYPE_UINT32, ""),
        ("creation_timestamp", 4, f.TYPE_INT64, ""), ("dataset_timestamp", 5, f.TYPE_INT64, ""),
        ("tags", 6, f.TYPE_MESSAGE, pkg + "DatasetProperties.TagsEntry[]"),
        ("metadata", 7, f.TYPE_MESSAGE, pkg + "DatasetProperties.MetadataEntry[]"),
    ])
    map_entry(props, "TagsEntry", f.TYPE_STRING, f.TYPE_STRING)
    map_entry(props, "MetadataEntry", f.TYPE_STRING, f.TYPE_STRING)
    head = message("DatasetProfileHeader", [
        ("properties", 1, f.TYPE_MESSAGE, pkg + "DatasetProperties"),
        ("column_offsets", 2, f.TYPE_MESSAGE, pkg + "DatasetProfileHeader.ColumnOffsetsEntry[]"),
        ("metric_offsets", 3, f.TYPE_MESSAGE, pkg + "ChunkOffsets[]"), ("length", 4, f.TYPE_INT64, ""),
        ("indexed_metric_paths", 5, f.TYPE_MESSAGE, pkg + "DatasetProfileHeader.IndexedMetricPathsEntry[]"),
    ])
    map_entry(head, "ColumnOffsetsEntry", f.TYPE_STRING, f.TYPE_MESSAGE, pkg + "ChunkOffsets")
    map_entry(head, "IndexedMetricPathsEntry", f.TYPE_UINT32, f.TYPE_STRING)
    message("SegmentTag", [("key", 1, f.TYPE_STRING, ""), ("value", 2, f.TYPE_STRING, "")])
    message("Segment", [("tags", 1, f.TYPE_MESSAGE, pkg + "SegmentTag[]"), ("partition_id", 2, f.TYPE_STRING, "")])
    seg = message("DatasetSegmentHeader", [
        ("has_segments", 1, f.TYPE_BOOL, ""), ("segments", 4, f.TYPE_MESSAGE, pkg + "Segment[]"),
        ("offsets", 5, f.TYPE_MESSAGE, pkg + "DatasetSegmentHeader.OffsetsEntry[]"),
    ])
    map_entry(seg, "OffsetsEntry", f.TYPE_UINT32, f.TYPE_INT64)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    names = ("MetricComponentMessage", "ChunkMessage", "ChunkHeader", "DatasetProfileHeader",
             "DatasetSegmentHeader", "ChunkOffsets")
    _MESSAGES = {name: message_factory.GetMessageClass(pool.FindMessageTypeByName("gitmlops.profile." + name))
                 for name in names}
    return _MESSAGES


_MESSAGES: dict[str, Any] | None = None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(buf: io.BytesIO) -> int:
    shift = result = 0
    while True:
        raw = buf.read(1)
        if not raw:
            raise ProfileFormatError("the profile ends inside a length prefix (truncated)")
        result |= (raw[0] & 0x7F) << shift
        if not raw[0] & 0x80:
            return result
        shift += 7


def _read_delimited(buf: io.BytesIO, cls: Any, what: str) -> Any:
    size = _read_varint(buf)
    data = buf.read(size)
    if len(data) != size:
        raise ProfileFormatError(f"the profile ends inside its {what} (truncated)")
    msg = cls()
    msg.ParseFromString(data)
    return msg


def kll_to_whylogs(data: bytes) -> bytes:
    """A KLL doubles sketch from Apache DataSketches (5.x) in whylogs-sketching's (3.x) layout.

    The sketches are the same; only the preamble of a sketch with two or more items differs: whylogs'
    is 6 ints long (4 bytes of padding after ``num_levels``), DataSketches' 5. Empty and single-item
    sketches are laid out alike.
    """
    if data and data[0] == 5:
        return bytes([6]) + data[1:20] + bytes(4) + data[20:]
    return data


def kll_from_whylogs(data: bytes) -> bytes:
    """A KLL doubles sketch from whylogs-sketching's layout in Apache DataSketches' (see :func:`kll_to_whylogs`)."""
    if data and data[0] == 6:
        return bytes([5]) + data[1:20] + data[24:]
    return data


def _component_message(cls: Any, comp: Component) -> Any:
    msg = cls(type_id=comp.type_id)
    if comp.kind == COUNT:
        msg.n = int(comp.value)
    elif comp.kind == FLOAT:
        msg.d = float(comp.value)
    elif comp.kind in SKETCH_FIELDS:
        data = bytes(comp.value)
        getattr(msg, comp.kind).sketch = kll_to_whylogs(data) if comp.kind == KLL else data
    else:
        raise ProfileFormatError(f"unknown metric component kind {comp.kind!r}")
    return msg


def encode(profile: ProfileData) -> bytes:
    """The profile in whylogs' binary format (what ``DatasetProfileView.read`` reads)."""
    m = _messages()
    paths = sorted({path for comps in profile.columns.values() for path in comps})
    index = {path: i for i, path in enumerate(paths)}
    body = bytearray()
    offsets = {}
    for name in sorted(profile.columns):
        offsets[name] = m["ChunkOffsets"](offsets=[len(body)])
        chunk = m["ChunkMessage"]()
        for path, comp in profile.columns[name].items():
            chunk.metric_components[index[path]].CopyFrom(_component_message(m["MetricComponentMessage"], comp))
        data = chunk.SerializeToString(deterministic=True)
        head = m["ChunkHeader"](type=COLUMN_CHUNK, length=len(data)).SerializeToString()
        body += _varint(len(head)) + head + data
    header = m["DatasetProfileHeader"](length=len(body))
    header.properties.dataset_timestamp = profile.dataset_timestamp
    header.properties.creation_timestamp = profile.creation_timestamp
    for key, value in profile.metadata.items():
        (header.properties.tags if key.startswith(TAG_PREFIX) else header.properties.metadata)[key] = value
    for name, offset in offsets.items():
        header.column_offsets[name].CopyFrom(offset)
    for path, i in index.items():
        header.indexed_metric_paths[i] = path
    segment = m["DatasetSegmentHeader"]()
    if profile.segment_tags:
        segment.has_segments = True
        seg = segment.segments.add()
        for key, value in profile.segment_tags:
            seg.tags.add(key=TAG_PREFIX + key, value=value)
    seg_bytes = segment.SerializeToString(deterministic=True)
    head_bytes = header.SerializeToString(deterministic=True)
    return MAGIC + _varint(len(seg_bytes)) + seg_bytes + _varint(len(head_bytes)) + head_bytes + bytes(body)


def _component(path: str, msg: Any) -> Component:
    kind = msg.WhichOneof("value")
    if kind in SKETCH_FIELDS:
        data = bytes(getattr(msg, kind).sketch)
        return Component(kind, kll_from_whylogs(data) if kind == KLL else data, msg.type_id)
    if kind == FLOAT:
        return Component(FLOAT, float(msg.d), msg.type_id)
    if kind == COUNT:
        return Component(COUNT, int(msg.n), msg.type_id)
    raise ProfileFormatError(f"metric {path!r} holds a value gitmlops does not read ({kind or 'none'})",
                             "gitmlops reads whylogs' standard metrics (counts, types, distribution, ints, "
                             "cardinality, frequent items)")


def decode(data: bytes) -> ProfileData:
    """A profile from whylogs' binary format (written by gitmlops or by whylogs, merged or segmented)."""
    from google.protobuf.message import DecodeError

    if data[:4] != MAGIC:
        raise ProfileFormatError("not a whylogs profile (no WHY1 header)")
    m = _messages()
    buf = io.BytesIO(data)
    buf.seek(4)
    try:
        segment = _read_delimited(buf, m["DatasetSegmentHeader"], "segment header")
        header = _read_delimited(buf, m["DatasetProfileHeader"], "profile header")
        if header.ByteSize() == 0:
            raise ProfileFormatError("the profile has no dataset header")
        start = buf.tell()
        paths = dict(header.indexed_metric_paths)
        columns: dict[str, dict[str, Component]] = {}
        for name in sorted(header.column_offsets):
            comps: dict[str, Component] = {}
            for offset in header.column_offsets[name].offsets:
                buf.seek(start + offset)
                chunk_head = _read_delimited(buf, m["ChunkHeader"], f"column {name!r} header")
                if chunk_head.type != COLUMN_CHUNK:
                    raise ProfileFormatError(f"column {name!r} points at a chunk of type {chunk_head.type}, not a column")
                raw = buf.read(chunk_head.length)
                if len(raw) != chunk_head.length:
                    raise ProfileFormatError(f"the profile ends inside column {name!r} (truncated)")
                chunk = m["ChunkMessage"]()
                chunk.ParseFromString(raw)
                for i, comp in chunk.metric_components.items():
                    if i not in paths:
                        raise ProfileFormatError(f"column {name!r} uses metric index {i}, which the header does not name")
                    comps[paths[i]] = _component(paths[i], comp)
            columns[name] = comps
    except DecodeError as exc:
        raise ProfileFormatError(f"the profile is corrupted: {exc}") from None
    props = header.properties
    metadata = dict(props.metadata)
    metadata.update(props.tags)
    # whylogs writes one segment per file (and reads only the first of several, as here)
    tags = [(t.key.removeprefix(TAG_PREFIX), t.value) for s in segment.segments[:1] for t in s.tags]
    return ProfileData(columns, int(props.dataset_timestamp), int(props.creation_timestamp), metadata, tags)
