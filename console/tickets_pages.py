"""Placeholder: replaced by the page module's real implementation."""

from fastapi import APIRouter

router = APIRouter(prefix="/console")
