"""sync/receive"""
