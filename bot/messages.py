"""Chinese texts the gateway itself sends (Rasa's replies live in the domain)."""

RASA_BUSY = "系统繁忙，您的消息已记录。请稍后再发一次，紧急事项可拨打 12345 政务服务便民热线。"
NON_TEXT = "抱歉，目前我只能识别文字消息。请用文字描述您的问题；材料图片可在提交诉求后由工作人员联系您补充。"
EMPTY = "您发送的内容是空的，请用文字描述您的问题。"
TOO_LONG = "您的消息较长，已完整记录。为便于办理，我先根据前 {limit} 个字为您处理。"
CHOSEN = "已选择：{title}"
BUTTON_EXPIRED = "这个按钮已失效，请直接发送文字告诉我您的需要。"
CHOOSE = "请选择："
