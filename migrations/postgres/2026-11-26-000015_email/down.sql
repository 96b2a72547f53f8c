DROP TABLE reset_mail_throttle;
