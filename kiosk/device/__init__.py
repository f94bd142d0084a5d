"""kiosk/device"""
