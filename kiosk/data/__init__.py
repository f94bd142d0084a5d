"""kiosk/data"""
