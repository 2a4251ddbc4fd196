"""The operator's forced re-run of one night's bank escrow sync."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import InputRequired, ValidationError

from app import clock
from app.forms import TwDateField


class RerunForm(FlaskForm):
    day = TwDateField("同步營業日", validators=[InputRequired("請選擇要重新執行的營業日")],
                      description="同步該日 00:00（台北時間）以前的存入、核銷與退貨")

    def validate_day(self, field: DateField) -> None:
        if field.data and field.data > clock.business_day():
            raise ValidationError("不可選擇未來的日期")
