"""sync/contract"""
