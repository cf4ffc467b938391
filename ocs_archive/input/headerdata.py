"""The header data of a frame, and the archive record built from it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ocs_archive.exceptions import FileSpecificationException
from ocs_archive.settings import settings


class HeaderData:
    """A frame's headers (key to value) and getters for the archive's concepts.

    Each getter reads the key named by its setting (``SITE_ID_KEY`` and so on) at the
    time of the call.
    """

    def __init__(self, headers: dict[str, Any]):
        self._headers = headers

    def get_headers(self) -> dict[str, Any]:
        return self._headers

    def update_headers(self, updates: dict[str, Any]) -> None:
        self._headers.update(updates)

    def remove_header(self, key: str) -> None:
        self._headers.pop(key, None)

    def headers_are_set(self, keys: Iterable[str]) -> bool:
        """True when every key has a value other than None and ``''``."""
        return all(self._headers.get(key) not in (None, "") for key in keys)

    def get_related_frame_keys(self) -> tuple[str, ...]:
        return settings.RELATED_FRAME_KEYS

    def get_related_frames(self) -> dict[str, Any]:
        """Related-frame key to value, for the keys whose value is truthy."""
        return {
            key: self._headers[key]
            for key in self.get_related_frame_keys()
            if self._headers.get(key)
        }

    def _get(self, key: str, default: Any) -> Any:
        return self._headers.get(key, default)

    def get_observation_day(self) -> Any:
        return self._get(settings.OBSERVATION_DAY_KEY, None)

    def get_observation_date(self) -> Any:
        return self._get(settings.OBSERVATION_DATE_KEY, None)

    def get_public_date(self) -> Any:
        return self._get(settings.PUBLIC_DATE_KEY, None)

    def get_exposure_time(self) -> Any:
        return self._get(settings.EXPOSURE_TIME_KEY, None)

    def get_observation_id(self) -> Any:
        return self._get(settings.OBSERVATION_ID_KEY, None)

    def get_configuration_id(self) -> Any:
        return self._get(settings.CONFIGURATION_ID_KEY, None)

    def get_request_id(self) -> Any:
        return self._get(settings.REQUEST_ID_KEY, None)

    def get_requestgroup_id(self) -> Any:
        return self._get(settings.REQUESTGROUP_ID_KEY, None)

    def get_frame_basename(self) -> Any:
        return self._get(settings.THUMBNAIL_FRAME_BASENAME_KEY, None)

    def get_proposal_id(self) -> Any:
        return self._get(settings.PROPOSAL_ID_KEY, "")

    def get_configuration_type(self) -> Any:
        return self._get(settings.CONFIGURATION_TYPE_KEY, "")

    def get_instrument_id(self) -> Any:
        return self._get(settings.INSTRUMENT_ID_KEY, "")

    def get_site_id(self) -> Any:
        return self._get(settings.SITE_ID_KEY, "")

    def get_primary_optical_element(self) -> Any:
        return self._get(settings.PRIMARY_OPTICAL_ELEMENT_KEY, "")

    def get_target_name(self) -> Any:
        return self._get(settings.TARGET_NAME_KEY, "")

    def get_telescope_id(self) -> Any:
        return self._get(settings.TELESCOPE_ID_KEY, "")

    def get_size(self) -> Any:
        return self._get(settings.THUMBNAIL_SIZE_KEY, "")

    def get_reduction_level(self) -> int:
        """The reduction level as an integer: 0 (raw) when unset or a null marker.

        Raises :class:`FileSpecificationException` when the value is not an integer.
        """
        key = settings.REDUCTION_LEVEL_KEY
        value = self._headers.get(key)
        if value in (None, "") or (
            isinstance(value, str) and value in settings.NULL_HEADER_VALUES
        ):
            return 0
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise FileSpecificationException(
                f"{key} {value!r} is not an integer reduction level"
            )
        try:
            return int(value)
        except ValueError:
            raise FileSpecificationException(
                f"{key} {value!r} is not an integer reduction level"
            ) from None

    def get_archive_frame_data(self) -> dict[str, Any]:
        """The frame's archive record, without headers, footprint or basename."""
        return {
            "reduction_level": self.get_reduction_level(),
            "observation_day": self.get_observation_day(),
            "observation_date": self.get_observation_date(),
            "proposal_id": self.get_proposal_id(),
            "instrument_id": self.get_instrument_id(),
            "target_name": self.get_target_name(),
            "site_id": self.get_site_id(),
            "telescope_id": self.get_telescope_id(),
            "exposure_time": self.get_exposure_time(),
            "primary_optical_element": self.get_primary_optical_element(),
            "public_date": self.get_public_date(),
            "configuration_type": self.get_configuration_type(),
            "observation_id": self.get_observation_id(),
            "request_id": self.get_request_id(),
            "related_frame_filenames": list(self.get_related_frames().values()),
            "frame_basename": self.get_frame_basename(),
            "size": self.get_size(),
        }
