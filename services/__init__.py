"""Interforces services: one package per process. Services import `contracts`, never each other."""
