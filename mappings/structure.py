"""FHIR R4B structure validation at the speed the hot path needs, and a read-only view of it.

fhir.resources checks a resource by building a Python model for every element it holds, through
Python hooks at each level: about 0.25 ms for one chemotherapy MedicationRequest, 7 ms for an
order-sign's worth of resources. The rules themselves are simple and all live in the models'
metadata, so this module reads that metadata once per resource type and compiles it into one
pydantic-core validator that runs in Rust:

- the element names of each type (anything else is rejected, as `extra="forbid"` does);
- cardinality (a list where the element repeats; no null inside a list of complex elements);
- each primitive's own rule, taken from the model's annotation (id/code/uri patterns, date and
  dateTime formats, integer ranges, decimals), so the two validators cannot drift apart;
- required elements (a required primitive may be carried by its `_element` extension instead);
- choice elements (`value[x]`): at most one type, exactly one where the choice is required;
- `resourceType` must name the type; contained and Bundle-entry resources are checked as what
  they say they are.

Errors are pydantic `ValidationError`s with the same `loc` (JSON element names) and kinds as
fhir.resources', so `mappings.fhir` turns them into the same OperationOutcome issues. What
passes is returned as an `Element`: attribute access like the models (absent ⇒ None, keyword
names such as `class_fhir`), over the checked JSON.
"""
from __future__ import annotations

import threading
import types
import typing
from functools import lru_cache

import pydantic
from pydantic import ValidationError
from pydantic_core import PydanticCustomError, SchemaValidator, core_schema as cs

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import FhirBase, FhirElementOrResourceBase

_NONE = type(None)


def validate(resource: dict, resource_type: str) -> dict:
    """The checked JSON of one resource of `resource_type`; raises pydantic's ValidationError.
    An unknown resource type raises KeyError."""
    return validator(resource_type).validate_python(resource)


_lock = threading.Lock()
_validators: dict[str, SchemaValidator] = {}


def validator(resource_type: str) -> SchemaValidator:
    """The compiled validator of one resource type (built on first use, then shared)."""
    found = _validators.get(resource_type)
    if found is None:
        with _lock:
            found = _validators.get(resource_type)
            if found is None:
                found = _Compiler().compile(_model(resource_type))
                _validators[resource_type] = found
    return found


@lru_cache(maxsize=None)
def _model(resource_type: str) -> type[FHIRAbstractModel]:
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError):
        raise KeyError(resource_type) from None


# --- compiling the models' metadata -------------------------------------------------------------

class _Compiler:
    """One model class and everything it reaches, as pydantic-core definitions."""

    def __init__(self):
        self.definitions: dict[str, cs.CoreSchema] = {}

    def compile(self, model: type[FHIRAbstractModel]) -> SchemaValidator:
        root = self._model_ref(model, resource=True)
        return SchemaValidator(cs.definitions_schema(root, list(self.definitions.values())))

    def _model_ref(self, model: type[FHIRAbstractModel], *, resource: bool = False) -> cs.CoreSchema:
        ref = f"{model.__module__}.{model.__qualname__}"
        if ref not in self.definitions:
            self.definitions[ref] = {}   # placeholder: recursion (Extension.extension) stops here
            self.definitions[ref] = self._model_schema(model, ref, resource)
        return cs.definition_reference_schema(ref)

    def _model_schema(self, model, ref: str, resource: bool) -> cs.CoreSchema:
        fields: dict[str, cs.TypedDictField] = {}
        choices: dict[str, list[str]] = {}
        choice_required: set[str] = set()
        required_primitives: list[str] = []
        for name, info in model.model_fields.items():
            key = info.alias or name
            extra = info.json_schema_extra or {}
            fields[key] = cs.typed_dict_field(self._type(info.annotation), required=info.is_required())
            group = extra.get("one_of_many")
            if group:
                choices.setdefault(group, []).append(key)
                if extra.get("one_of_many_required"):
                    choice_required.add(group)
            if extra.get("element_required") and not info.is_required():
                required_primitives.append(key)
        if resource:
            fields["resourceType"] = cs.typed_dict_field(
                cs.literal_schema([model.__resource_type__]), required=False)
        schema = cs.typed_dict_schema(fields, extra_behavior="forbid", total=False)
        rules = _ElementRules(tuple((g, tuple(keys), g in choice_required) for g, keys in choices.items()),
                              tuple(required_primitives))
        if rules.any():
            schema = cs.no_info_after_validator_function(rules, schema)
        return {**schema, "ref": ref}

    def _type(self, annotation) -> cs.CoreSchema:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType) and _NONE in args:
            rest = [a for a in args if a is not _NONE]
            inner = self._type(rest[0]) if len(rest) == 1 else _primitive_schema(annotation)
            return cs.nullable_schema(inner)
        if origin in (list, typing.List):
            return cs.list_schema(self._type(args[0]))
        if isinstance(annotation, type) and issubclass(annotation, FhirElementOrResourceBase):
            return cs.no_info_plain_validator_function(_any_resource)   # contained, entry.resource
        if isinstance(annotation, type) and issubclass(annotation, FhirBase):
            return self._model_ref(annotation.get_model_klass())
        return _primitive_schema(annotation)


@lru_cache(maxsize=None)
def _primitive_schema(annotation) -> cs.CoreSchema:
    """A primitive's own core schema, as fhir.resources declares it (pattern, range, format)."""
    schema = pydantic.TypeAdapter(annotation).core_schema
    return schema if _robust(schema) else cs.no_info_wrap_validator_function(_guarded, schema)


_JUNK = (12, 1.5, True, [], {}, "", " x ", "2026-13-45")


def _robust(schema: cs.CoreSchema) -> bool:
    """True if the primitive's own check answers every kind of junk with a ValidationError.
    Some raise AttributeError instead (fhir_core's url on a number), which would be a 500."""
    check = SchemaValidator(schema)
    for junk in _JUNK:
        try:
            check.validate_python(junk)
        except ValidationError:
            pass
        except Exception:   # noqa: BLE001 - exactly what is being probed for
            return False
    return True


def _guarded(value, handler):
    try:
        return handler(value)
    except (AttributeError, TypeError):
        raise PydanticCustomError("value_error", "Input is not a valid value of this type") from None


class _ElementRules:
    """Choice elements and required primitives of one element type, checked after its fields."""

    __slots__ = ("group_of", "needed", "required")

    def __init__(self, choices: tuple, required: tuple):
        self.group_of = {key: group for group, keys, _ in choices for key in keys}
        self.needed = tuple((group, keys) for group, keys, needed in choices if needed)
        self.required = required

    def any(self) -> bool:
        return bool(self.group_of or self.required)

    def __call__(self, value: dict) -> dict:
        # Walk the few keys present, not the ~50 types of a value[x] (Extension, Observation).
        seen: dict[str, str] = {}
        group_of = self.group_of
        for key, item in value.items():
            group = group_of.get(key)
            if group is not None and item is not None:
                if group in seen:
                    raise PydanticCustomError(
                        "value_error", "{group}[x] has more than one type: {present}",
                        {"group": group, "present": f"{seen[group]}, {key}"})
                seen[group] = key
        for group, keys in self.needed:
            if group not in seen:
                raise PydanticCustomError(
                    "missing", "{group}[x] is required (one of {keys})",
                    {"group": group, "keys": ", ".join(keys)})
        for key in self.required:
            if value.get(key) is None and not (value.get("_" + key) or {}).get("extension"):
                raise PydanticCustomError("missing", "{key} is required", {"key": key})
        return value


def _any_resource(value):
    """A resource whose type is only known from its `resourceType` (contained, Bundle entries)."""
    rtype = value.get("resourceType") if isinstance(value, dict) else None
    if not isinstance(rtype, str):
        raise PydanticCustomError("model_type", "Input should be a FHIR resource with a resourceType")
    try:
        return validate(value, rtype)
    except KeyError:
        raise PydanticCustomError("value_error", "unknown resourceType {rtype}", {"rtype": rtype}) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PydanticCustomError("value_error", "{rtype} at {where}: {msg}",
                                  {"rtype": rtype, "where": where or "(root)", "msg": first.get("msg")}) from None


# --- reading what passed -------------------------------------------------------------------------

class Element:
    """Read-only attribute view of checked FHIR JSON: `mr.dosageInstruction[0].timing.repeat`.

    An absent element reads as None, like an unset model field; Python-keyword names take the
    models' `_fhir` suffix (`Coverage.class` is `class_fhir`)."""

    __slots__ = ("_json",)

    def __init__(self, json: dict):
        self._json = json

    def __getattr__(self, name: str):   # only called for names that are not attributes
        value = self._json.get(name)
        if value.__class__ is dict:
            return Element(value)
        if value.__class__ is list:
            return [Element(v) if v.__class__ is dict else v for v in value]
        return value

    # The models' names for elements whose FHIR names are Python keywords.
    assert_fhir = property(lambda self: self.__getattr__("assert"))
    class_fhir = property(lambda self: self.__getattr__("class"))
    for_fhir = property(lambda self: self.__getattr__("for"))
    global_fhir = property(lambda self: self.__getattr__("global"))
    import_fhir = property(lambda self: self.__getattr__("import"))

    def get_resource_type(self) -> str | None:
        return self._json.get("resourceType")

    def __repr__(self) -> str:
        return f"Element({self._json.get('resourceType', '')}{'/' + str(self._json['id']) if 'id' in self._json else ''})"
