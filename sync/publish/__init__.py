"""sync/publish"""
